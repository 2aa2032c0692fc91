// The DHCP service: proxyDHCP (default) or full DHCP, per config. Undefined when dhcp.mode is off at startup.
import type { AppContext, Service } from '../service.js'
import { createDhcpGate } from '../policy/gate.js'
import { DhcpSockets, type MessageHandler } from './server.js'
import { Responder } from './responder.js'
import { warmUpMachineStore, warmUpPacket } from './warmup.js'
import { Inventory, SIGHTING_DRAIN_INTERVAL_MS, SIGHTING_QUIET_MS } from './inventory.js'
import type { MachineStore } from '../store/types.js'

/**
 * Synthetic requests run through the real pipeline over loopback before the sockets open (DhcpSockets.warmUp).
 * 12,000 (about 0.3 s of start-up more than the 4,000 before): bench/dhcp, seventh pass, with 4,000 V8 still
 * compiled send, setImmediate and inventory code on its worker threads during a storm's first second.
 */
const WARM_UP_ROUNDS = 12_000
/**
 * The warm-up's quiet pause between its phases: long enough for the inventory to write a few rounds of the warm-up's
 * sightings behind the "storm" (to the dry run's stub), so that path is compiled before READY too.
 */
const WARM_UP_PAUSE_MS = SIGHTING_QUIET_MS + 4 * SIGHTING_DRAIN_INTERVAL_MS

export interface DhcpService extends Service {
  /** bound ports, for tests that bind port 0 */
  ports (): { dhcp?: number, proxyDhcp?: number }
}

export interface DhcpServiceOptions {
  /**
   * Switches the store into a dry run for the warm-up (remote-store.ts RemoteStore.dryRun): while on, ctx.store
   * calls are answered by a stub and nothing reaches the real store. The warm-up then drives the real store
   * objects, so its type feedback is what real traffic brings. Without it the warm-up swaps in a stub store
   * (objects of another shape: the first real inventory batch deoptimizes what the warm-up optimized).
   */
  dryRun?: (on: boolean) => void
}

export function createService (ctx: AppContext, opts: DhcpServiceOptions = {}): DhcpService | undefined {
  if (ctx.config.current().dhcp.mode === 'off') return undefined
  const log = ctx.log.child({ proto: 'dhcp' })
  const sockets = new DhcpSockets(log, () => ctx.config.current().dhcp.busyPollMicroseconds, ctx.config.current().dhcp.batchReceive)
  if (sockets.batchUnavailable !== undefined) log.warn(`dhcp.batchReceive: ${sockets.batchUnavailable}; reading with Node's dgram`)
  // During the warm-up the inventory writes to a stub; from the first real packet on, to the store. The accessor
  // reads ctx.store.machines either way, so the warm-up leaves type feedback for that load too (bench/dhcp: an
  // unread branch deoptimized Inventory.admit on the first real packet).
  let warmUpStore: MachineStore | undefined
  const machines = (): MachineStore => {
    const real = ctx.store.machines
    return warmUpStore ?? real
  }
  const responder = new Responder(ctx, createDhcpGate(ctx), async (r) => await sockets.send(r.via, r.buf, r.to), machines)
  const onMessage: MessageHandler = (msg, from, via) => { void responder.handle(msg, from, via) }
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
        // Full mode is not warmed up: its DISCOVERs would take addresses from the real lease table.
        try {
          if (opts.dryRun !== undefined) {
            opts.dryRun(true)
            await Inventory.probe(ctx.store.machines)   // answered by the stub: the warm-up writes behind its replies
          } else {
            warmUpStore = warmUpMachineStore()
            await Inventory.probe(warmUpStore)
          }
          await sockets.warmUp(WARM_UP_ROUNDS, warmUpPacket, onMessage, WARM_UP_PAUSE_MS)
        } catch (err) {
          log.debug({ err }, 'udp warm-up failed (harmless)')
        }
        await responder.forgetSightings()
        opts.dryRun?.(false)
        warmUpStore = undefined
      }
      const probeError = await probe
      // The warm-up's stub answers said nothing about the real store: its health is what the real probe found.
      Inventory.setProven(ctx.store.machines, probeError === undefined)
      if (probeError !== undefined) {
        // DESIGN.md rule 3 still holds: until a write succeeds, each first contact waits for its write; a failed
        // write means silence.
        log.warn({ err: probeError }, 'state store failed its start-up probe: DHCP replies wait for each new machine\'s inventory write until one succeeds')
      }
      await sockets.start({ address: cfg.server.bind, dhcpPort: cfg.ports.dhcp, proxyPort: cfg.ports.proxyDhcp }, onMessage)
      if (cfg.server.bind !== '0.0.0.0') {
        // Linux delivers 255.255.255.255 datagrams only to sockets bound to the wildcard address.
        log.warn({ bind: cfg.server.bind }, 'DHCP bound to one address: broadcast DISCOVERs from local clients will not arrive, only relayed and 4011 requests; use server.bind 0.0.0.0 to serve the local segment')
      }
      log.info({ mode: cfg.dhcp.mode, bind: cfg.server.bind, ports: [sockets.port('dhcp'), sockets.port('proxy')], receive: sockets.receive }, 'dhcp listening')
    },
    async stop () {
      await sockets.stop()
      // Machines first seen in the last storm are still queued (written behind it): write them before going.
      const left = await responder.flushSightings()
      if (left > 0) log.warn({ sightings: left }, 'dhcp stopping: machine sightings not recorded (the store did not take them in time); those machines are recorded when they next ask')
    },
    ports: () => ({ dhcp: sockets.port('dhcp'), proxyDhcp: sockets.port('proxy') })
  }
}
