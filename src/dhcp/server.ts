// The only file in src/dhcp that opens sockets: UDP ports.dhcp (67) and ports.proxyDhcp (4011) bound to
// server.bind, SO_BROADCAST on (replies to unconfigured clients go to 255.255.255.255, RFC 2131 §4.1).
// Read by recvmmsg in batches (net/udp-batch.ts, dhcp.batchReceive, the default) or by Node's dgram; the rest of
// the service cannot tell which. Receive callbacks never throw; a bind failure becomes a BindError that says what to do.
import dgram from 'node:dgram'
import { performance } from 'node:perf_hooks'
import { BindError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Via } from './classify.js'
import type { Destination } from './route.js'
import { BusyPoll, type LoopHold } from '../net/busy-poll.js'
import { literalLookup } from '../net/literal-lookup.js'
import type { WarmUpDatagram } from './warmup.js'
import { BatchUdpSocket, loadUdpBatch, NativeLoopHold, int32ToIpv4, type UdpBatchBinding } from '../net/udp-batch.js'

export interface Source { address: string, port: number }
export type MessageHandler = (msg: Buffer, from: Source, via: Via) => void

const RECV_BUFFER_BYTES = 4 * 1024 * 1024

export interface BindSpec { address: string, dhcpPort: number, proxyPort: number }

/** One bound DHCP port, whichever socket reads it. */
interface Endpoint {
  port: () => number | undefined
  /** calls `done` once the datagram is handed to the kernel (or failed to be) */
  send: (buf: Buffer, to: Destination, done: (err?: NodeJS.ErrnoException) => void) => void
  close: () => Promise<void>
}

interface BindArgs { via: Via, address: string, port: number, log: Logger, onMessage: MessageHandler, afterMessage: () => void }

/** Log and keep serving: a handler that throws is a bug, never a reason to stop reading. */
function deliver (a: BindArgs, msg: Buffer, address: string, port: number): void {
  try {
    a.onMessage(msg, { address, port }, a.via)
  } catch (err) {
    a.log.error({ err, via: a.via }, 'dhcp handler threw (bug)')
  }
  a.afterMessage()
}

function bindDgram (a: BindArgs): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    // A large receive buffer absorbs the burst of a rack powering on at once (capped by net.core.rmem_max).
    // Replies go to IP literals only (route.ts): no dns.lookup per send.
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER_BYTES, lookup: literalLookup })
    const onBindError = (err: NodeJS.ErrnoException): void => {
      sock.close()
      reject(new BindError('dhcp', a.address, a.port, err))
    }
    sock.once('error', onBindError)
    sock.bind({ address: a.address, port: a.port, exclusive: true }, () => {
      sock.off('error', onBindError)
      sock.setBroadcast(true)
      // A datagram too large for the buffer, ICMP errors and the like: log, keep serving.
      sock.on('error', (err) => a.log.warn({ err, via: a.via }, 'dhcp socket error'))
      sock.on('message', (msg, rinfo) => { deliver(a, msg, rinfo.address, rinfo.port) })
      resolve({
        port: () => sock.address().port,
        send: (buf, to, done) => { sock.send(buf, to.port, to.address, (err) => { done(err ?? undefined) }) },
        close: () => new Promise<void>(resolve => sock.close(() => resolve()))
      })
    })
  })
}

/** Drops reported by the kernel are logged at most this often (the rest are summed into the next line). */
const DROP_LOG_INTERVAL_MS = 10_000

/**
 * A boot storm faster than the thread reads it fills the socket's receive buffer and the kernel drops requests
 * before anyone sees them (clients retry, slower). recvmmsg reports the count (SO_RXQ_OVFL): say so, and what to do.
 */
function dropReporter (a: BindArgs, sock: () => BatchUdpSocket): { report: (dropped: number) => void, flush: () => void } {
  let pending = 0
  let loggedAt = -Infinity
  let timer: NodeJS.Timeout | undefined
  const flush = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (pending === 0) return
    const granted = sock().recvBufferBytes() ?? 0
    // Linux grants twice what is asked, capped at twice net.core.rmem_max (socket(7)).
    const hint = granted < 2 * RECV_BUFFER_BYTES
      ? `raise net.core.rmem_max to let the appliance have the ${RECV_BUFFER_BYTES / 1048576} MiB it asks for (sysctl -w net.core.rmem_max=${RECV_BUFFER_BYTES})`
      : 'the DHCP thread did not keep up: see what else runs on this machine'
    a.log.warn({ via: a.via, dropped: pending, recvBufferBytes: granted },
      `the kernel dropped ${pending} DHCP datagram(s) on the ${a.via === 'proxy' ? 'proxyDHCP (4011)' : 'DHCP'} port: its receive buffer (${Math.round(granted / 1024)} KiB) was full; clients retry. ${hint}`)
    pending = 0
    loggedAt = Date.now()
  }
  const report = (dropped: number): void => {
    pending += dropped
    if (timer !== undefined) return
    const wait = loggedAt + DROP_LOG_INTERVAL_MS - Date.now()
    if (wait <= 0) flush()
    else { timer = setTimeout(flush, wait); timer.unref() }
  }
  return { report, flush }
}

/** The same port read by recvmmsg (net/udp-batch.ts): a batch of datagrams per wake-up and per call into JS. */
function bindBatch (a: BindArgs, binding: UdpBatchBinding): Endpoint {
  let sock: BatchUdpSocket
  const drops = dropReporter(a, () => sock)
  try {
    sock = BatchUdpSocket.open(binding, a.address, a.port, RECV_BUFFER_BYTES, {
      datagram: (msg, address, port) => { deliver(a, msg, address, port) },
      truncated: (address, port) => { a.log.debug({ from: `${address}:${port}`, via: a.via }, 'oversized datagram dropped') },
      dropped: drops.report,
      error: (err) => { a.log.warn({ err, via: a.via }, 'dhcp socket error') }
    })
  } catch (err) {
    throw new BindError('dhcp', a.address, a.port, err as NodeJS.ErrnoException)
  }
  return {
    port: () => sock.port(),
    send: (buf, to, done) => {
      const code = sock.send(buf, to.port, to.address)
      done(code === undefined ? undefined : Object.assign(new Error(`send ${code}`), { code, syscall: 'sendto' }))
    },
    // Drops not yet logged (the 10 s limit) are logged before the socket goes.
    close: async () => { drops.flush(); sock.close() }
  }
}

/**
 * µs spun between two polls while busy polling from JavaScript (net/busy-poll.ts, the dgram reader's; the addon's
 * hold spins in C, native/udp-batch/loop_hold.c): bench/dhcp/diagnose.ts, 3 runs each, 2 storms of
 * 5 s at 5,000/s: GC pauses 313–328 → 165–173, replies over 0.15 ms 4,853–5,361 → 3,460–4,487, for ≤ 3 µs more
 * per request.
 */
const POLL_SLICE_MICROS = 3
/** Requests the warm-up keeps in flight (its loopback sockets' buffers never overflow). */
const WARM_UP_IN_FLIGHT = 32
/**
 * The last requests of the warm-up go one at a time. With 32 in flight the loop never has a turn to spare, so the
 * busy-poll turn that spins was first run by the first real DISCOVER (bench/dhcp, 2026-11-24: warm-up turns 0).
 * 1,500 (seventh pass): with 500, V8 still compiled setImmediate's processImmediate during a storm.
 */
const WARM_UP_PACED_ROUNDS = 1500
/** The warm-up never holds start-up longer than this, whatever happens. */
const WARM_UP_MAX_MS = 3000
/** Once every request was sent, the warm-up ends after this long without a reply. */
const WARM_UP_QUIET_MS = 20

/**
 * The warm-up's reply address, built anew for each reply as real destinations are (a relay's giaddr decoded from
 * the request, a 4011 client's source address): not an interned literal. The send path compares a reply's address
 * with the last one (net/udp-batch.ts); with only the literal '127.0.0.1' in the warm-up, V8 specialised that
 * comparison for interned strings and the first real reply deoptimized the whole inlined send path (`wrong instance
 * type`) and recompiled it on a worker thread while the storm ran (bench/dhcp/README.md, fourteenth pass).
 */
function runtimeLoopback (): string {
  return int32ToIpv4(0x7f000001)
}

export class DhcpSockets {
  private readonly socks = new Map<Via, Endpoint>()
  /** while warming up: every reply goes to this port on loopback (the warm-up's client), whatever the request names */
  private redirectPort: number | undefined
  /**
   * After each request the loop keeps polling for `busyPollMicros()` µs: in a boot storm the next DISCOVER is then
   * read without the wake-up of a sleeping thread (bench/dhcp: p50 0.09 → 0.03 ms on the 2-vCPU VM measured, dnsmasq
   * 0.045). A quiet network costs that many µs of CPU per request, nothing more. With the recvmmsg reader the addon
   * polls (NativeLoopHold: no garbage per turn); with dgram, net/busy-poll.ts.
   */
  readonly busyPoll: LoopHold

  /** The addon when batch receive is asked for and available (net/udp-batch.ts); dgram otherwise. */
  private readonly batch: UdpBatchBinding | undefined
  /** Why batch receive was asked for and is not used (logged by the service), if so. */
  readonly batchUnavailable: string | undefined

  constructor (private readonly log: Logger, private readonly busyPollMicros: () => number = () => 0, batchReceive = false) {
    const loaded = batchReceive ? loadUdpBatch() : {}
    this.batch = loaded.binding
    this.batchUnavailable = batchReceive ? loaded.reason : undefined
    this.busyPoll = this.batch !== undefined ? new NativeLoopHold(this.batch) : new BusyPoll(undefined, POLL_SLICE_MICROS)
  }

  /** What reads the ports: 'recvmmsg' (native/udp-batch) or 'dgram'. */
  get receive (): 'recvmmsg' | 'dgram' { return this.batch !== undefined ? 'recvmmsg' : 'dgram' }

  private async bind (via: Via, address: string, port: number, onMessage: MessageHandler): Promise<Endpoint> {
    const args: BindArgs = { via, address, port, log: this.log, onMessage, afterMessage: this.afterMessage }
    return this.batch !== undefined ? bindBatch(args, this.batch) : await bindDgram(args)
  }

  /** Runs after each datagram; one function for the warm-up's sockets and the real ones (one call target for V8). */
  private readonly afterMessage = (): void => { this.busyPoll.hold(this.busyPollMicros()) }

  async start (spec: BindSpec, onMessage: MessageHandler): Promise<void> {
    try {
      this.socks.set('dhcp', await this.bind('dhcp', spec.address, spec.dhcpPort, onMessage))
      this.socks.set('proxy', await this.bind('proxy', spec.address, spec.proxyPort, onMessage))
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /**
   * Runs `rounds` synthetic requests through the same socket handler, `onMessage` and send path the real sockets
   * will use, over loopback, before start(): V8 then compiles the per-datagram path with the maps and call targets
   * of production (bench/dhcp: a warm-up through other objects left deopts in the first second of a storm), on
   * Buffers a real socket delivered. Loopback only: two sockets on 127.0.0.1 stand in for 67 and 4011 and every
   * reply is redirected to the loopback client. Requests are paced by replies (32 in flight, then the last
   * WARM_UP_PACED_ROUNDS one at a time, after a quiet pause of `pauseMs`), with a timer for requests the policy
   * leaves unanswered; resolves when all were sent and answered or after WARM_UP_MAX_MS. The busy-poll spin is
   * calibrated first.
   */
  async warmUp (rounds: number, datagram: (i: number) => WarmUpDatagram, onMessage: MessageHandler, pauseMs = 0): Promise<void> {
    if (this.socks.size > 0) throw new Error('warmUp must run before start')
    this.busyPoll.prepare()
    const client = dgram.createSocket('udp4')
    await new Promise<void>((resolve, reject) => { client.once('error', reject); client.bind(0, '127.0.0.1', () => { client.off('error', reject); resolve() }) })
    client.on('error', () => {})
    const bindPair = async (): Promise<Record<Via, number>> => {
      await this.stop()
      this.redirectPort = client.address().port
      this.socks.set('dhcp', await this.bind('dhcp', '127.0.0.1', 0, onMessage))
      this.socks.set('proxy', await this.bind('proxy', '127.0.0.1', 0, onMessage))
      return { dhcp: this.port('dhcp') as number, proxy: this.port('proxy') as number }
    }
    try {
      const until = performance.now() + WARM_UP_MAX_MS
      // Saturated: every request of the hot path many times over. Then paced, one request at a time as in a storm
      // from the wire: only then does the loop find time to busy-poll between requests, so the turn that spins
      // (net/busy-poll.ts) and setImmediate's own code are compiled before the first real DISCOVER too.
      // Each phase on sockets of its own: per-socket functions (the bound lookup dgram's send calls, the message
      // listener) are then already two call targets, so the real sockets are a third, not a surprise. With one
      // pair, V8 had compiled send for that pair's functions, and the first real reply deoptimized Socket.send,
      // doSend and afterDns (`wrong call target`) and recompiled them while the storm ran (bench/dhcp, 2026-11-24).
      const paced = Math.min(WARM_UP_PACED_ROUNDS, rounds)
      const next = await this.warmUpPhase(client, await bindPair(), rounds - paced, WARM_UP_IN_FLIGHT, 0, datagram, until)
      // A quiet pause (pauseMs) between the phases: what the pipeline does once a storm is over (the inventory's
      // writes behind it) runs in the warm-up too.
      if (pauseMs > 0) await new Promise(resolve => setTimeout(resolve, Math.min(pauseMs, Math.max(0, until - performance.now()))))
      await this.warmUpPhase(client, await bindPair(), paced, 1, next, datagram, until)
    } finally {
      await this.stop()
      await new Promise<void>(resolve => client.close(() => resolve()))
    }
  }

  /**
   * Sends `count` warm-up requests from index `first`, `inFlight` at a time, each answered one making room for the
   * next. A request the policy leaves silent gets no reply: when replies stall for 5 ms a few more go out. Resolves
   * (with the next index) when every request was answered, when none was for WARM_UP_QUIET_MS after the last went
   * out, or at `until`.
   */
  private async warmUpPhase (client: dgram.Socket, ports: Record<Via, number>, count: number, inFlight: number, first: number,
    datagram: (i: number) => WarmUpDatagram, until: number): Promise<number> {
    let sent = 0
    let answered = 0
    await new Promise<void>((resolve) => {
      if (count <= 0) { resolve(); return }
      const finish = (): void => { clearTimeout(limit); clearInterval(topUp); client.off('message', onReply); resolve() }
      const limit = setTimeout(finish, Math.max(0, until - performance.now()))
      const sendOne = (): void => {
        if (sent >= count) return
        const d = datagram(first + sent++)
        if (d.noise !== undefined) client.send(d.noise.buf, ports[d.noise.via], '127.0.0.1')
        client.send(d.buf, ports[d.via], '127.0.0.1')
      }
      let lastReply = performance.now()
      const topUp = setInterval(() => {
        const quiet = performance.now() - lastReply
        if (sent >= count) { if (quiet >= WARM_UP_QUIET_MS) finish(); return }
        if (quiet >= 5) for (let i = 0; i < Math.min(8, inFlight); i++) sendOne()
      }, 5)
      const onReply = (): void => {
        lastReply = performance.now()
        if (++answered >= count) finish()
        else sendOne()
      }
      client.on('message', onReply)
      for (let i = 0; i < inFlight; i++) sendOne()
    })
    return first + sent
  }

  /** Actual bound ports (tests bind port 0). */
  port (via: Via): number | undefined {
    return this.socks.get(via)?.port()
  }

  /** Sends from the socket the request came in on, so 4011 replies come from 4011 (PXE spec 2.1 §2.2). */
  send (via: Via, buf: Buffer, to: Destination): Promise<void> {
    const sock = this.socks.get(via)
    if (sock === undefined) return Promise.resolve()
    if (this.redirectPort !== undefined) to = { address: runtimeLoopback(), port: this.redirectPort, broadcast: false }
    return new Promise((resolve) => {
      sock.send(buf, to, (err) => {
        if (err != null) {
          const hint = (err as NodeJS.ErrnoException).code === 'ENETUNREACH' && to.broadcast
            ? ': no route for 255.255.255.255 — give the host a default route, or `ip route add 255.255.255.255 dev <interface>`'
            : ''
          this.log.warn({ err, to: `${to.address}:${to.port}` }, `dhcp send failed${hint}`)
        }
        resolve()
      })
    })
  }

  async stop (): Promise<void> {
    const all = [...this.socks.values()]
    this.socks.clear()
    this.redirectPort = undefined
    await Promise.all(all.map(s => s.close()))
  }
}
