// The only file in src/dhcp that opens sockets: UDP ports.dhcp (67) and ports.proxyDhcp (4011) bound to
// server.bind, SO_BROADCAST on (replies to unconfigured clients go to 255.255.255.255, RFC 2131 §4.1).
// Receive callbacks never throw; a bind failure becomes a BindError that says what to do.
import dgram from 'node:dgram'
import { BindError } from '../errors.js'
import type { Logger } from '../log.js'
import type { Via } from './classify.js'
import type { Destination } from './route.js'

export interface Source { address: string, port: number }
export type MessageHandler = (msg: Buffer, from: Source, via: Via) => void

const RECV_BUFFER_BYTES = 4 * 1024 * 1024

export interface BindSpec { address: string, dhcpPort: number, proxyPort: number }

function bindOne (via: Via, address: string, port: number, log: Logger, onMessage: MessageHandler): Promise<dgram.Socket> {
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
      })
      resolve(sock)
    })
  })
}

export class DhcpSockets {
  private readonly socks = new Map<Via, dgram.Socket>()

  constructor (private readonly log: Logger) {}

  async start (spec: BindSpec, onMessage: MessageHandler): Promise<void> {
    try {
      this.socks.set('dhcp', await bindOne('dhcp', spec.address, spec.dhcpPort, this.log, onMessage))
      this.socks.set('proxy', await bindOne('proxy', spec.address, spec.proxyPort, this.log, onMessage))
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
