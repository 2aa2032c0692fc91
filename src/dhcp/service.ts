// The DHCP service: proxyDHCP (default) or full DHCP, per config. Undefined when dhcp.mode is off at startup.
import type { AppContext, Service } from '../service.js'
import { createDhcpGate } from '../policy/gate.js'
import { DhcpSockets, warmUpUdp } from './server.js'
import { Responder } from './responder.js'
import { warmUpPacket, warmUpResponder } from './warmup.js'
import { Inventory } from './inventory.js'

/** Synthetic requests run through the real pipeline over loopback before the sockets open (server.ts warmUpUdp). */
const WARM_UP_ROUNDS = 4000

export interface DhcpService extends Service {
  /** bound ports, for tests that bind port 0 */
  ports (): { dhcp?: number, proxyDhcp?: number }
}

export function createService (ctx: AppContext): DhcpService | undefined {
  if (ctx.config.current().dhcp.mode === 'off') return undefined
  const log = ctx.log.child({ proto: 'dhcp' })
  const sockets = new DhcpSockets(log, () => ctx.config.current().dhcp.busyPollMicroseconds)
  const responder = new Responder(ctx, createDhcpGate(ctx), async (r) => await sockets.send(r.via, r.buf, r.to))
  return {
    name: 'dhcp',
    async start () {
      const cfg = ctx.config.current()
      // The store proves itself (a real write and read) before the first packet, while the warm-ups run: the first
      // DISCOVERs of a storm are then answered without waiting for their inventory writes, on a warm LevelDB.
      const probe = Inventory.probe(ctx.store.machines).then(() => undefined, (err: unknown) => err ?? new Error('probe failed'))
      // Full mode: leases are loaded before the first packet, so a restart keeps every address where it was.
      if (cfg.dhcp.mode === 'full') await responder.leaseTable()
      if (cfg.dhcp.mode === 'proxy') {
        let warm: Responder | undefined
        await warmUpUdp(WARM_UP_ROUNDS, warmUpPacket, async (msg, from, answer) => {
          warm ??= warmUpResponder(ctx, answer)
          await warm.handle(msg, from, 'dhcp')
        }).catch((err: unknown) => log.debug({ err }, 'udp warm-up failed (harmless)'))
      }
      const probeError = await probe
      if (probeError !== undefined) {
        // DESIGN.md rule 3 still holds: until a write succeeds, each first contact waits for its write; a failed
        // write means silence.
        log.warn({ err: probeError }, 'state store failed its start-up probe: DHCP replies wait for each new machine\'s inventory write until one succeeds')
      }
      await sockets.start({ address: cfg.server.bind, dhcpPort: cfg.ports.dhcp, proxyPort: cfg.ports.proxyDhcp },
        (msg, from, via) => { void responder.handle(msg, from, via) })
      if (cfg.server.bind !== '0.0.0.0') {
        // Linux delivers 255.255.255.255 datagrams only to sockets bound to the wildcard address.
        log.warn({ bind: cfg.server.bind }, 'DHCP bound to one address: broadcast DISCOVERs from local clients will not arrive, only relayed and 4011 requests; use server.bind 0.0.0.0 to serve the local segment')
      }
      log.info({ mode: cfg.dhcp.mode, bind: cfg.server.bind, ports: [sockets.port('dhcp'), sockets.port('proxy')] }, 'dhcp listening')
    },
    async stop () {
      await sockets.stop()
    },
    ports: () => ({ dhcp: sockets.port('dhcp'), proxyDhcp: sockets.port('proxy') })
  }
}
