// The state machine of one read transfer (RFC 1350 §6, RFC 2347 OACK, RFC 7440 windows). Sockets, timers and the
// clock are injected, so every path (loss, duplicates, rollover, give-up) is unit-testable without the network.
import { OP, ERR, dataHeader, encodeError, encodeOack, packData, type Packet } from './packet.js'
import { blockCount } from './options.js'
import type { Source } from './source.js'

export interface TransferIo {
  /** sends one datagram to the peer; an array is sent as one datagram (scatter/gather) */
  send (parts: Buffer | Buffer[]): void
  setTimer (ms: number, fn: () => void): unknown
  clearTimer (handle: unknown): void
  /** optional: restarts an armed timer with its own delay (Node's Timeout.refresh), cheaper than clear + set */
  refreshTimer? (handle: unknown): void
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
  /** effective window at the end: packets per burst (below windowsize when losses made the transfer pace) */
  burst: number
  message?: string
}

/** 1000 ms doubling, capped at 8 s: a stalled client is given up after 1+2+4+8+8+8+8 = 39 s by default. */
const MAX_BACKOFF = 8
/**
 * Bytes of the first burst of a window. Linux's default receive buffer (net.core.rmem_default, 208 KiB) holds
 * about 12 datagrams of 8 KiB on loopback (each costs its payload plus skb overhead), so atftp at blksize 8192 x
 * windowsize 16 loses the tail of every full-speed window, and a lost tail is only noticed by the timeout.
 * Starting at 64 KiB per burst (8 blocks of 8 KiB; all 16 of 1468 or 512 bytes) avoids that first timeout.
 */
const FIRST_BURST_BYTES = 64 * 1024
/**
 * Adaptive timeout (RFC 1123 §4.2.3.2) for windowed transfers: a window whose tail was lost gets no ACK at all
 * (the client waits for the missing blocks), so the first retransmission of a window comes after 4 x the
 * smoothed round trip, at least FAST_RTO_MIN ms; further ones follow the configured, doubling timeout, so a
 * stalled client is still given up after the same time.
 */
const FAST_RTO_MIN = 20
/**
 * Blocks up to this size are copied into one buffer per burst (packet.ts packData) and sent as slices; larger ones
 * go out as header + payload without a copy. bench/tftp, blksize 512 × windowsize 16: 8 % faster copied; at 1468
 * no difference either way; at 8192 the copy would be 128 KiB per window.
 */
const PACK_MAX_BLKSIZE = 1468

export class ReadTransfer {
  private readonly total: number
  /** absolute number of the highest block the client acknowledged; -1 while the OACK is unacknowledged */
  private acked: number
  /** highest absolute block sent so far (a retransmission never lowers it): an ACK above it is bogus */
  private sentUpTo: number
  /** last block of the current window: an ACK below it is partial (the client lost a block) */
  private windowEnd: number
  /** the current window was sent once, not retransmitted or restarted: its full ACK grows the window */
  private windowClean = true
  private tries = 0
  private timer: unknown
  private timerMs = 0
  /** smoothed round trip of a window (ms, RFC 6298 style, Karn: clean windows only); 0 until measured */
  private srtt = 0
  private windowSentAt = 0
  /** the current window already had its one early retransmission */
  private fastUsed = false
  private timerFast = false
  private generation = 0
  /**
   * Effective window (congestion window): DATA packets sent back to back before yielding ~1 ms. AIMD: halved
   * on a timeout or a partial ACK of a windowed transfer, because a lost block is usually a burst that
   * overflowed the client's socket buffer (atftp at blksize 8192 x windowsize 16 keeps about 12 of 16 on Linux);
   * +1 after each cleanly acknowledged window, never above the negotiated windowsize. The blocks per ACK do not
   * change: RFC 7440 clients (atftp, EDK2) ACK only after `windowsize` blocks or their own multi-second
   * timeout, so sending fewer blocks per window would stall them; the rest of the window follows in bursts.
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
    this.windowEnd = this.acked
    this.burst = Math.min(s.windowsize, Math.max(1, Math.floor(FIRST_BURST_BYTES / s.blksize)))
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
   * §4.2.3.1); only the timer retransmits. With windows, an ACK inside the window (the client saw a gap or
   * timed out, RFC 7440 §4) restarts the window from the block after it at once, and only once, since that
   * ACK then becomes `acked`; it also halves the effective window.
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
    this.fastUsed = false
    if (this.windowClean) {
      const rtt = this.io.now() - this.windowSentAt
      this.srtt = this.srtt === 0 ? Math.max(rtt, 1) : (7 * this.srtt + rtt) / 8
    }
    if (a < this.windowEnd) this.shrink()
    else if (this.windowClean && this.burst < this.s.windowsize) this.burst++
    this.sendWindow()
    return true
  }

  /** multiplicative decrease of the effective window (windowed transfers only) */
  private shrink (): void {
    if (this.s.windowsize > 1) this.burst = Math.max(1, this.burst >> 1)
  }

  private sendWindow (retransmit = false): void {
    const gen = ++this.generation
    if (this.acked === -1) {
      this.sentUpTo = 0
      this.windowSentAt = this.io.now()
      this.io.send(encodeOack(this.s.oack ?? {}))
      this.packets++
      if (retransmit) this.retransmits++
      this.arm()
      return
    }
    const from = this.acked + 1
    const to = Math.min(this.acked + this.s.windowsize, this.total)
    // A retransmission, or a restart after a partial ACK (some blocks go out twice), is not a clean window.
    this.windowClean = !retransmit && from === this.windowEnd + 1
    this.windowEnd = to
    this.windowSentAt = this.io.now()
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
    if (bs <= PACK_MAX_BLKSIZE) {
      for (const packet of packData(first, last - first + 1, buf.subarray((first - from) * bs), bs)) this.io.send(packet)
    } else {
      for (let b = first; b <= last; b++) {
        const off = (b - from) * bs
        const payload = buf.subarray(off, Math.min(off + bs, buf.length))
        this.io.send(payload.length > 0 ? [dataHeader(b), payload] : dataHeader(b))
      }
    }
    const n = last - first + 1
    this.packets += n
    if (retransmit) this.retransmits += n
    if (last > this.sentUpTo) this.sentUpTo = last
    this.arm()
    if (last < to) {
      const gen = this.generation
      this.io.defer(() => { if (gen === this.generation && !this.done) this.emit(from, to, buf, retransmit, last + 1) })
    }
  }

  private arm (): void {
    this.timerFast = this.s.windowsize > 1 && !this.fastUsed && this.srtt > 0 && this.tries === 0
    const ms = this.timerFast
      ? Math.min(this.s.timeoutMs, Math.max(FAST_RTO_MIN, Math.ceil(4 * this.srtt)))
      : this.s.timeoutMs * Math.min(2 ** this.tries, MAX_BACKOFF)
    if (this.timer !== undefined) {
      // Lockstep arms the timer once per block: restart the same Timeout when the delay is unchanged.
      if (ms === this.timerMs && this.io.refreshTimer !== undefined) {
        this.io.refreshTimer(this.timer)
        return
      }
      this.io.clearTimer(this.timer)
    }
    this.timerMs = ms
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
    if (this.timerFast) this.fastUsed = true
    else this.tries++
    this.shrink()
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
