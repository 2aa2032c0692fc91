// The only file of the TFTP server that opens sockets: the listening socket (RFC 1350 §4: requests arrive on the
// well-known port) and one ephemeral socket per transfer (its TID). Receive handlers never throw.
import dgram from 'node:dgram'
import type { Logger } from '../log.js'
import type { AppConfig } from '../config/schema.js'
import { BindError } from '../errors.js'
import { decode, describe, encodeError, ERR, OP, type Packet, type RequestPacket } from './packet.js'
import { negotiate } from './options.js'
import { ReadTransfer, type TransferIo, type TransferResult } from './transfer.js'
import { openContent } from './content.js'
import { FileCache } from './cache.js'
import { VirtualFiles } from './virtual.js'
import { FileSource, type Source } from './source.js'
import { AnswerTime, BusyPoll } from '../net/busy-poll.js'
import { literalLookup } from '../net/literal-lookup.js'

export type TftpSettings = AppConfig['tftp']

export interface TftpServerDeps {
  log: Logger
  /** read on every request, so a config reload of root/limits/timeouts applies to the next transfer */
  settings: () => TftpSettings
  /** boot loader paths named in the config (bootLoaders), read per request; see paths.ts resolveInRoot */
  namedPaths?: () => readonly string[]
  virtual?: VirtualFiles
  cache?: FileCache
  /**
   * false: every twin socket bind fails, as it would if the port could not be shared, so each transfer takes the
   * fallback of openTransferSockets (one unconnected socket). Tests use it; the default tries the twin.
   */
  twinSockets?: boolean
}

interface Peer { address: string, port: number }

/** One request from its RRQ until its transfer ends; reserved before the file is opened so limits hold. */
interface Slot {
  key: string
  peer: Peer
  file: string
  closed: boolean
  socket?: dgram.Socket
  /** the unconnected twin of a connected transfer socket: answers other sources with ERROR 5 */
  strangers?: dgram.Socket
  /** `socket` is connected to the peer: send without an address */
  connected: boolean
  source?: Source
  transfer?: ReadTransfer
  /** how fast the client ACKs: busy polling is held only for clients that answer within the budget */
  answer: AnswerTime
  /** tftp.busyPollMicroseconds when the transfer started */
  pollBudget: number
}

const SOCKET_BUFFER = 4 * 1024 * 1024
/**
 * Busy polling pays only while the loop would otherwise sleep between ACKs: with more transfers than this running,
 * some ACK is almost always due, and spinning would only take CPU from everything else (bench/tftp: 200
 * concurrent small transfers took 341 ms with polling, 249 ms without).
 */
const BUSY_POLL_MAX_TRANSFERS = 8
/** read-ahead of a streamed file until the options are negotiated (FileSource.setReadAhead) */
const MIN_CHUNK = 128 * 1024

function bindSocket (socket: dgram.Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err)
    socket.once('error', onError)
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError)
      resolve()
    })
  })
}

function closeSocket (s: dgram.Socket): void {
  try { s.close() } catch { /* already closed */ }
}

export class TftpServer {
  readonly log: Logger
  readonly virtual: VirtualFiles
  readonly cache: FileCache
  private main?: dgram.Socket
  private bindAddress = '0.0.0.0'
  private readonly slots = new Map<string, Slot>()
  private readonly perClient = new Map<string, number>()
  /** one for all transfers: the loop is shared, so is the polling */
  readonly busyPoll = new BusyPoll()

  constructor (private readonly deps: TftpServerDeps) {
    this.log = deps.log
    this.virtual = deps.virtual ?? new VirtualFiles()
    this.cache = deps.cache ?? new FileCache(deps.settings().cacheBytes)
  }

  /** Number of requests being answered or transferred right now. */
  get active (): number { return this.slots.size }

  /** Binds the listening socket; rejects with a BindError that tells the admin what to do. */
  async listen (address: string, port: number): Promise<Peer> {
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: false })
    try {
      await bindSocket(s, address, port)
    } catch (err) {
      closeSocket(s)
      throw new BindError('tftp', address, port, err as NodeJS.ErrnoException)
    }
    try { s.setRecvBufferSize(SOCKET_BUFFER) } catch { /* capped by net.core.rmem_max */ }
    s.on('message', (msg, rinfo) => this.onRequestDatagram(msg, rinfo))
    s.on('error', err => this.log.warn({ err }, 'tftp listening socket error'))
    this.main = s
    this.bindAddress = address
    const a = s.address()
    return { address: a.address, port: a.port }
  }

  /** Aborts every transfer (the clients get ERROR 0) and closes all sockets. */
  async close (): Promise<void> {
    for (const slot of [...this.slots.values()]) {
      if (slot.transfer !== undefined) slot.transfer.abort('server shutting down')
      else this.release(slot)
    }
    if (this.main !== undefined) {
      const m = this.main
      this.main = undefined
      await new Promise<void>(resolve => m.close(() => resolve()))
    }
  }

  private onRequestDatagram (msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let p: Packet
    try {
      p = decode(msg)
    } catch (err) {
      // DESIGN "Errors and bad input" 1: malformed → debug log, drop, never reply.
      this.log.debug({ client: `${rinfo.address}:${rinfo.port}`, err: (err as Error).message }, 'dropped malformed datagram')
      return
    }
    try {
      if (p.op === OP.RRQ) this.onReadRequest(p, rinfo)
      else if (p.op === OP.WRQ) this.replyError(rinfo, ERR.ACCESS, 'this TFTP server is read-only: write requests are refused')
      else this.log.debug({ client: `${rinfo.address}:${rinfo.port}`, packet: describe(p) }, 'dropped non-request on the listening port')
    } catch (err) {
      this.log.error({ err }, 'tftp request handler failed')
    }
  }

  private replyError (to: Peer, code: number, message: string): void {
    this.main?.send(encodeError(code, message), to.port, to.address)
  }

  private onReadRequest (req: RequestPacket, rinfo: dgram.RemoteInfo): void {
    const peer = { address: rinfo.address, port: rinfo.port }
    const key = `${peer.address}:${peer.port}`
    const existing = this.slots.get(key)
    if (existing !== undefined) {
      // A firmware retransmitting its RRQ while we answer it: the running transfer's timer handles loss. Once
      // the client acknowledged something it sends no more RRQs: a new one from that port is a new transfer
      // (a restarted client, or a new process that got the port of one whose final ACK we never saw).
      if (existing.file === req.filename && existing.transfer?.acknowledged !== true) {
        this.log.debug({ client: key, file: req.filename }, 'duplicate RRQ ignored')
        return
      }
      // Silently: an ERROR from the old transfer port could make the restarted client give up.
      if (existing.transfer !== undefined) existing.transfer.abort('superseded by a new request', false)
      else this.release(existing)
    }
    const cfg = this.deps.settings()
    const mine = this.perClient.get(peer.address) ?? 0
    if (this.slots.size >= cfg.maxTransfers || mine >= cfg.maxTransfersPerClient) {
      // Answer at once rather than queue: the client retries, the storm drains.
      const why = this.slots.size >= cfg.maxTransfers ? 'maxTransfers' : 'maxTransfersPerClient'
      this.log.info({ client: key, file: req.filename, limit: why }, 'tftp busy, request refused')
      this.replyError(peer, ERR.NOT_DEFINED, 'server busy, retry')
      return
    }
    const slot: Slot = { key, peer, file: req.filename, closed: false, connected: false, answer: new AnswerTime(), pollBudget: cfg.busyPollMicroseconds }
    this.slots.set(key, slot)
    this.perClient.set(peer.address, mine + 1)
    this.begin(slot, req, cfg).catch(err => {
      this.log.error({ err, client: key, file: req.filename }, 'tftp transfer setup failed')
      this.replyError(peer, ERR.NOT_DEFINED, 'internal error')
      this.release(slot)
    })
  }

  private async begin (slot: Slot, req: RequestPacket, cfg: TftpSettings): Promise<void> {
    this.cache.setLimit(cfg.cacheBytes)
    const chunkBytes = MIN_CHUNK
    const content = await openContent(req.filename, slot.peer, { root: cfg.root, virtual: this.virtual, cache: this.cache, chunkBytes, named: this.deps.namedPaths?.() ?? [] })
    if (slot.closed) {
      if (content.ok) await content.source.close()
      return
    }
    if (!content.ok) {
      this.log[content.level]({ client: slot.key, file: req.filename, code: content.code, reason: content.reason, err: content.err }, 'tftp request refused')
      this.replyError(slot.peer, content.code, content.reason)
      this.release(slot)
      return
    }
    slot.source = content.source
    const neg = negotiate(req.options, cfg, content.source.size)
    if (content.source instanceof FileSource) content.source.setReadAhead(neg.blksize, neg.windowsize)
    let socket: dgram.Socket
    try {
      socket = await this.openTransferSockets(slot)
    } catch (err) {
      this.log.warn({ err, client: slot.key }, 'cannot open a transfer socket')
      this.replyError(slot.peer, ERR.NOT_DEFINED, 'server busy, retry')
      this.release(slot)
      return
    }
    if (slot.closed) return
    try { socket.setSendBufferSize(SOCKET_BUFFER) } catch { /* capped by net.core.wmem_max */ }
    const transfer = new ReadTransfer(content.source, {
      blksize: neg.blksize,
      windowsize: neg.windowsize,
      oack: neg.oack,
      timeoutMs: neg.timeoutMs ?? cfg.timeoutMs,
      retries: cfg.retries
    }, this.io(socket, slot), r => this.ended(slot, r, content.from))
    slot.transfer = transfer
    socket.on('message', (msg, rinfo) => this.onTransferDatagram(slot, msg, rinfo))
    this.log.info({ client: slot.key, file: content.file, from: content.from, size: content.source.size, options: req.options, blksize: neg.blksize, windowsize: neg.windowsize, connected: slot.connected }, 'tftp transfer start')
    transfer.start()
  }

  /**
   * The transfer's TID (RFC 1350 §4): a socket on a new port, connected to the client, so the kernel hands it only
   * the client's datagrams and it sends without a per-datagram address (bench/tftp: lockstep and windowed transfers
   * 7–12 % faster than with sendto). A twin socket on the same port, unconnected (both SO_REUSEADDR; Linux delivers
   * to the connected socket when the source matches it, to the twin otherwise), answers every other source with
   * ERROR 5 without disturbing the transfer. If the twin cannot bind, one unconnected socket does both jobs.
   */
  private async openTransferSockets (slot: Slot): Promise<dgram.Socket> {
    const open = async (reuseAddr: boolean): Promise<dgram.Socket> => {
      const socket = dgram.createSocket({ type: 'udp4', lookup: literalLookup, reuseAddr })
      slot.socket = socket
      socket.on('error', err => this.log.debug({ err, client: slot.key }, 'tftp transfer socket error'))
      await bindSocket(socket, this.bindAddress, 0)
      return socket
    }
    const socket = await open(true)
    const strangers = dgram.createSocket({ type: 'udp4', reuseAddr: true })
    strangers.on('error', err => this.log.debug({ err, client: slot.key }, 'tftp transfer twin socket error'))
    try {
      if (this.deps.twinSockets === false) throw new Error('twin sockets turned off (TftpServerDeps.twinSockets)')
      await bindSocket(strangers, this.bindAddress, socket.address().port)
    } catch (err) {
      // Without a twin the socket must not stay SO_REUSEADDR: an unconnected one could share its port with another.
      closeSocket(strangers)
      closeSocket(socket)
      this.log.debug({ err, client: slot.key }, 'no twin socket: one unconnected transfer socket')
      return await open(false)
    }
    slot.strangers = strangers
    strangers.on('message', (_msg, rinfo) => this.unknownTid(slot, strangers, rinfo))
    await new Promise<void>(resolve => socket.connect(slot.peer.port, slot.peer.address, () => resolve()))
    slot.connected = true
    return socket
  }

  /** RFC 1350 §4: a packet from another TID gets ERROR 5 and does not disturb the transfer. */
  private unknownTid (slot: Slot, from: dgram.Socket, rinfo: dgram.RemoteInfo): void {
    this.log.debug({ client: slot.key, from: `${rinfo.address}:${rinfo.port}` }, 'packet from unknown transfer ID')
    try { from.send(encodeError(ERR.UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address) } catch { /* closing */ }
  }

  private io (socket: dgram.Socket, slot: Slot): TransferIo {
    const { peer, answer } = slot
    return {
      send: parts => {
        if (slot.connected) socket.send(parts as Buffer)
        else socket.send(parts as Buffer, peer.port, peer.address)
        answer.sent()
        if (this.slots.size <= BUSY_POLL_MAX_TRANSFERS && answer.worthPolling(slot.pollBudget)) this.busyPoll.hold(slot.pollBudget)
      },
      setTimer: (ms, fn) => setTimeout(fn, ms),
      clearTimer: h => clearTimeout(h as NodeJS.Timeout),
      refreshTimer: h => { (h as NodeJS.Timeout).refresh() },
      defer: fn => setTimeout(fn, 1),
      now: () => Date.now()
    }
  }

  private onTransferDatagram (slot: Slot, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    try {
      if (rinfo.address !== slot.peer.address || rinfo.port !== slot.peer.port) {
        // Only without a twin (a connected socket never sees other sources).
        if (slot.socket !== undefined) this.unknownTid(slot, slot.socket, rinfo)
        return
      }
      slot.answer.answered()
      let p: Packet
      try {
        p = decode(msg)
      } catch (err) {
        this.log.debug({ client: slot.key, err: (err as Error).message }, 'dropped malformed datagram on transfer port')
        return
      }
      if (slot.transfer?.handle(p) === false) this.log.debug({ client: slot.key, packet: describe(p) }, 'ignored packet')
    } catch (err) {
      this.log.error({ err, client: slot.key }, 'tftp transfer handler failed')
    }
  }

  private ended (slot: Slot, r: TransferResult, from: string): void {
    const level = r.result === 'ok' || r.result === 'option-refused' || r.result === 'aborted' ? 'info' : 'warn'
    this.log[level]({ client: slot.key, file: slot.file, from, result: r.result, bytes: r.bytes, ms: r.ms, packets: r.packets, retransmits: r.retransmits, burst: r.burst, message: r.message }, 'tftp transfer end')
    this.release(slot)
  }

  /** Frees everything a request holds: its slot, its counters, its socket and its file. */
  private release (slot: Slot): void {
    if (slot.closed) return
    slot.closed = true
    if (this.slots.get(slot.key) === slot) this.slots.delete(slot.key)
    const n = (this.perClient.get(slot.peer.address) ?? 1) - 1
    if (n <= 0) this.perClient.delete(slot.peer.address)
    else this.perClient.set(slot.peer.address, n)
    // Close after the current tick so a final ERROR queued on the socket still leaves.
    for (const socket of [slot.socket, slot.strangers]) if (socket !== undefined) setImmediate(() => closeSocket(socket))
    slot.source?.close().catch(err => this.log.debug({ err }, 'closing a tftp source failed'))
  }
}
