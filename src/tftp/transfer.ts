// The state machine of one read transfer (RFC 1350 §6, RFC 2347 OACK, RFC 7440 windows). Sockets, timers and the
// clock are injected, so every path (loss, duplicates, rollover, give-up) is unit-testable without the network.
import { OP, ERR, dataHeader, encodeError, encodeOack, type Packet } from './packet.js'
import { blockCount } from './options.js'
import type { Source } from './source.js'

export interface TransferIo {
  /** sends one datagram to the peer; an array is sent as one datagram (scatter/gather) */
  send (parts: Buffer | Buffer[]): void
  setTimer (ms: number, fn: () => void): unknown
  clearTimer (handle: unknown): void
  /** runs fn a moment later (about 1 ms): the gap between bursts of a paced window lets the client drain */
  defer (fn: () => void): void
  now (): number
}

export interface TransferSettings {
  blksize: number
  windowsize: number
  /** RFC 2347 OACK to send first (it is "block 0" and must be ACKed with 0), or undefined */
  oack?: Record<string, string>
  /** first retransmission timeout; doubles on each retry (capped at MAX_BACKOFF times) */
  timeoutMs: number
  /** retransmissions of one window before the transfer is abandoned */
  retries: number
}

export type TransferResultKind =
  | 'ok'              // the client acknowledged the last block
  | 'timeout'         // no progress after `retries` retransmissions
  | 'option-refused'  // client sent ERROR 8 to our OACK: EDK2/OVMF's tsize probe, a normal event
  | 'client-error'    // client sent another ERROR
  | 'read-error'      // the file could not be read (shrank, I/O error)
  | 'aborted'         // server shutdown or replaced by a new request

export interface TransferResult {
  result: TransferResultKind
  /** payload bytes acknowledged by the client */
  bytes: number
  ms: number
  /** DATA/OACK datagrams sent, retransmissions included */
  packets: number
  retransmits: number
  /** packets per burst at the end (below windowsize when timeouts made the transfer pace its windows) */
  burst: number
  message?: string
}

/** 1000 ms doubling, capped at 8 s: a stalled client is given up after 1+2+4+8+8+8+8 = 39 s by default. */
const MAX_BACKOFF = 8

export class ReadTransfer {
  private readonly total: number
  /** absolute number of the highest block the client acknowledged; -1 while the OACK is unacknowledged */
  private acked: number
  /** highest absolute block sent in the current window */
  private sentUpTo: number
  private tries = 0
  private timer: unknown
  private generation = 0
  /**
   * DATA packets sent back to back before yielding. Starts at the window size; halved after each timeout of a
   * windowed transfer, because a window that times out is usually a burst that overflowed the client's socket
   * buffer (atftp at blksize 8192 x windowsize 16 keeps 12 of 16 on Linux). The window size itself never
   * changes: RFC 7440 clients ACK after exactly `windowsize` blocks.
   */
  private burst: number
  private done = false
  private readonly started: number
  packets = 0
  retransmits = 0

  constructor (
    private readonly source: Source,
    private readonly s: TransferSettings,
    private readonly io: TransferIo,
    private readonly onEnd: (r: TransferResult) => void
  ) {
    this.total = blockCount(source.size, s.blksize)
    this.acked = s.oack !== undefined ? -1 : 0
    this.sentUpTo = this.acked
    this.burst = s.windowsize
    this.started = io.now()
  }

  get finished (): boolean { return this.done }

  /** True once the client acknowledged anything (ACK 0 of the OACK, or DATA 1): it no longer resends its RRQ. */
  get acknowledged (): boolean { return this.acked >= (this.s.oack !== undefined ? 0 : 1) }

  start (): void {
    this.sendWindow()
  }

  /** A packet from the transfer's peer (the server filtered other TIDs out). Returns false when ignored. */
  handle (p: Packet): boolean {
    if (this.done) return false
    if (p.op === OP.ACK) return this.onAck(p.block)
    if (p.op === OP.ERROR) {
      // RFC 2347: ERROR 8 answers an OACK the client does not accept; EDK2 does it on purpose after it read tsize.
      const refused = p.code === ERR.OPTION_REFUSED && this.acked === -1
      this.finish(refused ? 'option-refused' : 'client-error', `client error ${p.code}: ${p.message}`)
      return true
    }
    return false // RRQ/DATA/OACK from our peer: meaningless here, dropped without disturbing the transfer
  }

  /** Ends the transfer now; tells the client why unless `notify` is false (a superseded request). */
  abort (message: string, notify = true): void {
    if (this.done) return
    if (notify) this.io.send(encodeError(ERR.NOT_DEFINED, message))
    this.finish('aborted', message)
  }

  /**
   * Maps a 16-bit ACK number into [acked, acked+65535] (block numbers wrap to 0 after 65535, as tftp-hpa and
   * atftp expect for files over 32 MiB at 512-byte blocks). Only an ACK above `acked` and not above what was
   * sent counts: duplicates and stale ACKs never trigger a send (the sorcerer's apprentice bug, RFC 1123
   * §4.2.3.1); only the timer retransmits. With windows, an ACK inside the window (the client saw a gap,
   * RFC 7440 §4) restarts the window from the block after it, once, since that ACK then becomes `acked`.
   */
  private onAck (block: number): boolean {
    const a = this.acked + ((block - (this.acked & 0xffff)) & 0xffff)
    if (a === this.acked || a > this.sentUpTo) return false
    this.acked = a
    if (a === this.total) {
      this.finish('ok')
      return true
    }
    this.tries = 0
    this.sendWindow()
    return true
  }

  private sendWindow (retransmit = false): void {
    const gen = ++this.generation
    if (this.acked === -1) {
      this.sentUpTo = 0
      this.io.send(encodeOack(this.s.oack ?? {}))
      this.packets++
      if (retransmit) this.retransmits++
      this.arm()
      return
    }
    const from = this.acked + 1
    const to = Math.min(this.acked + this.s.windowsize, this.total)
    const start = (from - 1) * this.s.blksize
    const end = Math.min(to * this.s.blksize, this.source.size)
    let data: Buffer | Promise<Buffer>
    try {
      data = this.source.slice(start, end - start)
    } catch (err) {
      this.readFailed(err)
      return
    }
    if (Buffer.isBuffer(data)) {
      this.emit(from, to, data, retransmit)
      return
    }
    data.then(
      buf => { if (gen === this.generation && !this.done) this.emit(from, to, buf, retransmit) },
      err => { if (!this.done) this.readFailed(err) }
    )
  }

  /** Sends blocks from..to whose bytes start at buf[0], `burst` at a time; a newer window cancels the rest. */
  private emit (from: number, to: number, buf: Buffer, retransmit: boolean, first = from): void {
    const bs = this.s.blksize
    const last = Math.min(to, first + this.burst - 1)
    for (let b = first; b <= last; b++) {
      const off = (b - from) * bs
      const payload = buf.subarray(off, Math.min(off + bs, buf.length))
      this.io.send(payload.length > 0 ? [dataHeader(b), payload] : dataHeader(b))
    }
    const n = last - first + 1
    this.packets += n
    if (retransmit) this.retransmits += n
    this.sentUpTo = last
    this.arm()
    if (last < to) {
      const gen = this.generation
      this.io.defer(() => { if (gen === this.generation && !this.done) this.emit(from, to, buf, retransmit, last + 1) })
    }
  }

  private arm (): void {
    if (this.timer !== undefined) this.io.clearTimer(this.timer)
    const ms = this.s.timeoutMs * Math.min(2 ** this.tries, MAX_BACKOFF)
    this.timer = this.io.setTimer(ms, () => this.onTimeout())
  }

  private onTimeout (): void {
    this.timer = undefined
    if (this.done) return
    if (this.tries >= this.s.retries) {
      this.io.send(encodeError(ERR.NOT_DEFINED, 'transfer timed out'))
      this.finish('timeout', `no acknowledgement after ${this.tries} retransmissions`)
      return
    }
    this.tries++
    if (this.s.windowsize > 1) this.burst = Math.max(1, Math.floor(this.burst / 2))
    this.sendWindow(true)
  }

  private readFailed (err: unknown): void {
    const message = err instanceof Error ? err.message : String(err)
    this.io.send(encodeError(ERR.NOT_DEFINED, 'read error on server'))
    this.finish('read-error', message)
  }

  private finish (result: TransferResultKind, message?: string): void {
    if (this.done) return
    this.done = true
    this.generation++
    if (this.timer !== undefined) this.io.clearTimer(this.timer)
    this.timer = undefined
    const bytes = Math.min(Math.max(this.acked, 0) * this.s.blksize, this.source.size)
    this.onEnd({ result, bytes, ms: this.io.now() - this.started, packets: this.packets, retransmits: this.retransmits, burst: this.burst, message })
  }
}
