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

/**
 * Runs Node's UDP send and receive path (dgram JS internals) on a loopback socket talking to itself before the
 * real sockets open, so V8 has compiled it when the first burst arrives: in bench/dhcp the first second of a
 * 5,000/s storm was the slowest even with the responder warmed (warmup.ts). Loopback only; nothing leaves the host.
 */
export async function warmUpUdp (rounds = 3000): Promise<void> {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(0, '127.0.0.1', () => { sock.off('error', reject); resolve() }) })
  const port = sock.address().port
  const buf = Buffer.alloc(300)
  let got = 0
  await new Promise<void>((resolve) => {
    const done = setTimeout(resolve, 2000)   // never hold start-up for long, whatever happens
    // A window of 32 datagrams in flight, one more sent per one received: the receive buffer never overflows.
    let sent = 0
    const sendOne = (): void => { if (sent < rounds) { sent++; sock.send(buf, port, '127.0.0.1') } }
    sock.on('message', () => { if (++got >= rounds) { clearTimeout(done); resolve() } else sendOne() })
    sock.on('error', () => {})
    for (let i = 0; i < 32; i++) sendOne()
  })
  await new Promise<void>(resolve => sock.close(() => resolve()))
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
