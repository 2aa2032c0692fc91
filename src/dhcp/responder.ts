// Per-datagram logic, socket-free: decode → classify → gate → inventory → reply (proxy or full) → route.
// Reads ctx.config.current() per packet so a hot reload applies to the next packet. Never throws.
import type { AppContext } from '../service.js'
import type { DhcpGate } from '../policy/types.js'
import type { AppConfig } from '../config/schema.js'
import { decode, encode, DhcpDecodeError, type DhcpPacket } from './packet.js'
import { classify, type Classified, type PxeClient, type Via } from './classify.js'
import { buildProxyReply } from './proxy.js'
import { handleFull } from './full.js'
import { LeaseTable } from './leases.js'
import { replyDestination, type Destination } from './route.js'
import type { Source } from './server.js'
import { Inventory } from './inventory.js'
import type { MachineStore } from '../store/types.js'

export { SIGHTING_INTERVAL_MS, SIGHTING_DRAIN_INTERVAL_MS, MAX_QUEUED_SIGHTINGS, MAX_WAITING_SIGHTINGS } from './inventory.js'

/** Full-mode requests waiting for the allocation queue at most; beyond it they are dropped (clients retry). */
export const MAX_QUEUED_FULL = 1024

export interface Reply { via: Via, buf: Buffer, to: Destination }
export type Sender = (r: Reply) => Promise<void>

export class Responder {
  private readonly log
  private readonly inventory: Inventory
  private leases: Promise<LeaseTable> | undefined
  /** full-mode requests run one at a time: allocation, store write and reply never interleave */
  private fullQueue: Promise<void> = Promise.resolve()
  private fullQueued = 0

  /**
   * `machines`: where the inventory writes; the service points it at a stub during its start-up warm-up (the same
   * Responder then serves the real sockets, so V8's type feedback is production's) and at ctx.store.machines after.
   */
  constructor (private readonly ctx: AppContext, private readonly gate: DhcpGate, private readonly send: Sender,
    machines: () => MachineStore = () => ctx.store.machines) {
    this.log = ctx.log.child({ proto: 'dhcp' })
    this.inventory = new Inventory(machines, ctx.clock, this.log)
  }

  /** Waits until no inventory write is in flight, then forgets every sighting seen so far (the warm-up's). */
  async forgetSightings (): Promise<void> {
    await this.inventory.reset()
  }

  /** Writes the inventory's queued sightings now (the service is stopping); resolves with how many were not. */
  async flushSightings (): Promise<number> {
    return await this.inventory.flush()
  }

  /** Loads the lease table from the store (once; retried after a failure). */
  leaseTable (): Promise<LeaseTable> {
    if (this.leases === undefined) {
      const p = this.ctx.store.leases.list().then(list => new LeaseTable(list))
      p.catch(() => { if (this.leases === p) this.leases = undefined })
      this.leases = p
    }
    return this.leases
  }

  async handle (msg: Buffer, from: Source, via: Via): Promise<void> {
    try {
      await this.handleUnsafe(msg, from, via)
    } catch (err) {
      this.log.error({ err, from: from.address }, 'dhcp request failed (bug)')
    }
  }

  private async handleUnsafe (msg: Buffer, from: Source, via: Via): Promise<void> {
    const cfg = this.ctx.config.current()
    if (cfg.dhcp.mode === 'off') return
    let packet: DhcpPacket
    try {
      packet = decode(msg)
    } catch (err) {
      // DESIGN.md rule 1: malformed → debug log, drop, never reply.
      if (err instanceof DhcpDecodeError) this.log.debug({ code: err.code, offset: err.offset, from: from.address }, 'malformed dhcp packet dropped')
      else throw err
      return
    }
    const c = classify(packet, via, cfg.dhcp.mode)
    if (c.kind === 'ignore') {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ reason: c.reason, detail: c.detail, xid: packet.xid }, 'dhcp request ignored')
      return
    }
    if (c.pxe !== undefined && !(await this.admit(c, c.pxe))) return
    if (via === 'proxy' || cfg.dhcp.mode === 'proxy') {
      const reply = buildProxyReply(c, cfg)
      if (reply !== undefined) await this.reply(cfg, c, reply, from, false)
      return
    }
    if (this.fullQueued >= MAX_QUEUED_FULL) { this.shed(c); return }
    this.fullQueued++
    const run = this.fullQueue.then(() => this.full(cfg, c, from)).finally(() => { this.fullQueued-- })
    this.fullQueue = run.catch(() => {})
    await run
  }

  /**
   * The policy gate, then the inventory. The gate comes first so that with `dhcp.answer: known` a refused client is
   * not recorded — otherwise its first DISCOVER would put it in the inventory and make it "known". False: stay
   * silent (the policy says no, or the store failed).
   */
  private async admit (c: Classified, client: PxeClient): Promise<boolean> {
    const xid = c.packet.xid
    let verdict: true | string
    try {
      verdict = await this.gate.shouldAnswer({ mac: client.mac, arch: client.arch, uuid: client.uuid })
    } catch (err) {
      this.log.warn({ err, mac: c.mac, xid }, 'dhcp gate failed; not answering')
      return false
    }
    if (verdict !== true) {
      this.log.debug({ mac: c.mac, xid, reason: verdict }, 'policy: not answering')
      return false
    }
    const admission = await this.inventory.admit(c, client)
    if (admission === 'overloaded') this.shed(c)
    return admission === 'answer'
  }

  private shedCount = 0
  private shedLoggedAt = 0

  /** Load shedding, logged at most once a second with the count since the last line. */
  private shed (c: Classified): void {
    this.shedCount++
    const now = Date.now()
    if (now - this.shedLoggedAt < 1000) return
    this.log.warn({ mac: c.mac, xid: c.packet.xid, dropped: this.shedCount }, 'overloaded (inventory writes or full-mode allocation queue): dropping requests, clients retry')
    this.shedLoggedAt = now
    this.shedCount = 0
  }

  private async full (cfg: AppConfig, c: Classified, from: Source): Promise<void> {
    let table: LeaseTable
    try {
      table = await this.leaseTable()
    } catch (err) {
      this.log.warn({ err, mac: c.mac, xid: c.packet.xid }, 'cannot load leases; not answering')
      return
    }
    const out = handleFull(c, cfg, table, this.ctx.clock.now().getTime())
    if (out.save !== undefined) {
      const prev = table.set(out.save)
      try {
        await this.ctx.store.leases.put(out.save)
      } catch (err) {
        table.restore(out.save.mac, out.save, prev)
        this.log.warn({ err, mac: c.mac, xid: c.packet.xid }, 'cannot store lease; not answering')
        return
      }
    }
    if (out.reply === undefined) {
      this.log.debug({ mac: c.mac, xid: c.packet.xid, reason: out.reason }, 'full dhcp: no reply')
      return
    }
    await this.reply(cfg, c, out.reply, from, out.nak === true)
  }

  private async reply (cfg: AppConfig, c: Classified, reply: DhcpPacket, from: Source, nak: boolean): Promise<void> {
    const delay = cfg.dhcp.responseDelayMs
    if (delay > 0) await new Promise(resolve => setTimeout(resolve, delay))
    const to = replyDestination(c.packet, c.via, from, { dhcp: cfg.ports.dhcp, dhcpClient: cfg.ports.dhcpClient }, nak)
    await this.send({ via: c.via, buf: encode(reply), to })
  }
}
