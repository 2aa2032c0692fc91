// The only file in src/dhcp that opens sockets: UDP ports.dhcp (67) and ports.proxyDhcp (4011) bound to
// server.bind, SO_BROADCAST on (replies to unconfigured clients go to 255.255.255.255, RFC 2131 §4.1).
// Receive callbacks never throw; a bind failure becomes a BindError that says what to do.
import dgram from 'node:dgram'
import { BindError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Via } from './classify.js'
import type { Destination } from './route.js'
import { BusyPoll } from '../net/busy-poll.js'

export interface Source { address: string, port: number }
export type MessageHandler = (msg: Buffer, from: Source, via: Via) => void

const RECV_BUFFER_BYTES = 4 * 1024 * 1024

export interface BindSpec { address: string, dhcpPort: number, proxyPort: number }

function bindOne (via: Via, address: string, port: number, log: Logger, onMessage: MessageHandler, afterMessage: () => void): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    // A large receive buffer absorbs the burst of a rack powering on at once (capped by net.core.rmem_max).
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: RECV_BUFFER_BYTES })
    const onBindError = (err: NodeJS.ErrnoException): void => {
      sock.close()
      reject(new BindError('dhcp', address, port, err))
    }
    sock.once('error', onBindError)
    sock.bind({ address, port, exclusive: true }, () => {
      sock.off('error', onBindError)
      sock.setBroadcast(true)
      // A datagram too large for the buffer, ICMP errors and the like: log, keep serving.
      sock.on('error', (err) => log.warn({ err, via }, 'dhcp socket error'))
      sock.on('message', (msg, rinfo) => {
        try {
          onMessage(msg, { address: rinfo.address, port: rinfo.port }, via)
        } catch (err) {
          log.error({ err, via }, 'dhcp handler threw (bug)')
        }
        afterMessage()
      })
      resolve(sock)
    })
  })
}

/** What a warm-up handler gets: a datagram as a real socket delivered it, and a way to answer it over loopback. */
export type WarmUpHandler = (msg: Buffer, from: Source, answer: (buf: Buffer) => Promise<void>) => Promise<void>

/**
 * Runs the per-datagram path on Buffers that came out of a real socket, before the real sockets open: a loopback
 * "client" socket sends `payload(i)` to a loopback "server" socket whose handler answers back. V8 then compiles
 * decode and friends for the Buffers dgram delivers (in bench/dhcp, warming with Buffers built in JS left
 * `wrong map` deopts for the first real packets) and Node's send/receive internals, so the first second of a storm
 * is not the slowest. Loopback only: answers go to the client socket whatever address the packet names.
 */
export async function warmUpUdp (rounds: number, payload: (i: number) => Buffer, handle: WarmUpHandler): Promise<void> {
  const bindLoopback = async (): Promise<dgram.Socket> => {
    const sock = dgram.createSocket('udp4')
    await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(0, '127.0.0.1', () => { sock.off('error', reject); resolve() }) })
    sock.on('error', () => {})
    return sock
  }
  const server = await bindLoopback()
  const client = await bindLoopback().catch(async (err: unknown) => { server.close(); throw err })
  const serverPort = server.address().port
  const clientPort = client.address().port
  const answer = (buf: Buffer): Promise<void> => new Promise(resolve => { server.send(buf, clientPort, '127.0.0.1', () => resolve()) })
  let sent = 0
  let done = 0
  await new Promise<void>((resolve) => {
    const limit = setTimeout(resolve, 3000)   // never hold start-up for long, whatever happens
    const sendOne = (): void => { if (sent < rounds) client.send(payload(sent++), serverPort, '127.0.0.1') }
    // 32 datagrams in flight, one more sent per one handled: the receive buffer never overflows.
    server.on('message', (msg, rinfo) => {
      handle(msg, { address: rinfo.address, port: rinfo.port }, answer).catch(() => {}).finally(() => {
        if (++done >= rounds) { clearTimeout(limit); resolve() } else sendOne()
      })
    })
    for (let i = 0; i < 32; i++) sendOne()
  })
  await Promise.all([server, client].map(s => new Promise<void>(resolve => s.close(() => resolve()))))
}

export class DhcpSockets {
  private readonly socks = new Map<Via, dgram.Socket>()
  /**
   * After each request the loop keeps polling for `busyPollMicros()` µs (net/busy-poll.ts): in a boot storm the
   * next DISCOVER is then read without the wake-up of a sleeping thread (bench/dhcp: p50 0.09 → 0.03 ms on the
   * 2-vCPU VM measured, dnsmasq 0.045). A quiet network costs that many µs of CPU per request, nothing more.
   */
  readonly busyPoll = new BusyPoll()

  constructor (private readonly log: Logger, private readonly busyPollMicros: () => number = () => 0) {}

  async start (spec: BindSpec, onMessage: MessageHandler): Promise<void> {
    const after = (): void => { this.busyPoll.hold(this.busyPollMicros()) }
    try {
      this.socks.set('dhcp', await bindOne('dhcp', spec.address, spec.dhcpPort, this.log, onMessage, after))
      this.socks.set('proxy', await bindOne('proxy', spec.address, spec.proxyPort, this.log, onMessage, after))
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Actual bound ports (tests bind port 0). */
  port (via: Via): number | undefined {
    return this.socks.get(via)?.address().port
  }

  /** Sends from the socket the request came in on, so 4011 replies come from 4011 (PXE spec 2.1 §2.2). */
  send (via: Via, buf: Buffer, to: Destination): Promise<void> {
    const sock = this.socks.get(via)
    if (sock === undefined) return Promise.resolve()
    return new Promise((resolve) => {
      sock.send(buf, to.port, to.address, (err) => {
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
    await Promise.all(all.map(s => new Promise<void>(resolve => s.close(() => resolve()))))
  }
}
