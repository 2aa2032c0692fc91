// The machine inventory as seen from DHCP: every PXE machine that asks is recorded (ctx.store.machines), at
// most once per SIGHTING_INTERVAL_MS per MAC (a ROM retries every few seconds).
//
// Whether the reply waits for that write depends on what the store has shown us:
//  - until a write has succeeded, and after any write fails, the reply waits for it and a failure means silence
//    (DESIGN.md rule 3: warn with {mac, xid}, send nothing; the firmware retries);
//  - while the last write succeeded, the write runs behind the reply: a boot storm of new machines is then limited
//    by the DHCP path, not by the store's write rate. A write that fails there is logged with {mac, xid} and
//    switches back to waiting, so at most the requests already in flight are answered without being recorded.
import type { Logger } from '../log.js'
import type { Clock } from '../clock.js'
import type { MachineStore } from '../store/types.js'
import type { Classified, PxeClient } from './classify.js'

/** Sightings of one MAC are written at most this often. */
export const SIGHTING_INTERVAL_MS = 10_000
/** Writes in flight at most while writing behind the reply; beyond it a first contact is not recorded yet. */
export const MAX_PENDING_SIGHTINGS = 512
/**
 * Writes in flight at most while replies wait for them (start-up, or after a failure); beyond it a first contact
 * is dropped unanswered (the firmware retries). Small, so a storm at start-up does not queue behind a store that
 * has not answered yet: the first success switches to writing behind.
 */
export const MAX_WAITING_SIGHTINGS = 32
/**
 * Writes started per second at most while writing behind the reply (token bucket of SIGHTING_WRITE_BURST). A storm
 * of new machines beyond it is answered without being recorded yet; each is recorded on a later packet (its next
 * DISCOVER or its 4011 REQUEST) or by the HTTP side. Measured in bench/dhcp: at 5,000 new machines/s the store's
 * per-write cost on the main thread otherwise pushed DHCP latency past a second.
 */
export const SIGHTING_WRITES_PER_SECOND = 1000
/** Token bucket depth: writes that may start at once after a quiet spell. */
export const SIGHTING_WRITE_BURST = 100
const SIGHTING_MAP_LIMIT = 100_000

export type Admission = 'answer' | 'silent' | 'overloaded'

export class Inventory {
  private readonly lastWrite = new Map<string, number>()
  private readonly inflight = new Map<string, Promise<void>>()
  /** the last completed write succeeded */
  private healthy = false
  private tokens = SIGHTING_WRITE_BURST
  private refilledAt = 0

  constructor (private readonly store: () => MachineStore, private readonly clock: Clock, private readonly log: Logger) {}

  /** Records the sighting as needed; says whether the request may be answered. Never rejects. */
  async admit (c: Classified, client: PxeClient): Promise<Admission> {
    const pending = this.inflight.get(c.mac) ?? this.startWrite(c, client)
    if (pending === undefined) return 'answer'
    if (pending === 'full') return this.healthy ? 'answer' : 'overloaded'
    if (this.healthy) return 'answer'
    try {
      await pending
      return 'answer'
    } catch (err) {
      this.log.warn({ err, mac: c.mac, xid: c.packet.xid }, 'cannot record machine sighting; not answering')
      return 'silent'
    }
  }

  private takeToken (nowMs: number): boolean {
    const elapsed = nowMs - this.refilledAt
    if (elapsed < 0 || elapsed > 0) {
      this.tokens = Math.min(SIGHTING_WRITE_BURST, this.tokens + Math.max(0, elapsed) * SIGHTING_WRITES_PER_SECOND / 1000)
      this.refilledAt = nowMs
    }
    if (this.tokens < 1) return false
    this.tokens--
    return true
  }

  private startWrite (c: Classified, client: PxeClient): Promise<void> | 'full' | undefined {
    const now = this.clock.now()
    const last = this.lastWrite.get(c.mac)
    if (last !== undefined && now.getTime() - last < SIGHTING_INTERVAL_MS && now.getTime() >= last) return undefined
    const limit = this.healthy ? MAX_PENDING_SIGHTINGS : MAX_WAITING_SIGHTINGS
    if (this.inflight.size >= limit || (this.healthy && !this.takeToken(now.getTime()))) return 'full'
    if (this.lastWrite.size >= SIGHTING_MAP_LIMIT) this.lastWrite.clear()
    const ip = c.packet.ciaddr !== '0.0.0.0' ? c.packet.ciaddr : undefined
    const waited = !this.healthy
    const write = this.store().recordSighting({
      mac: c.mac, arch: client.arch, vendorClass: client.vendorClass,
      ...(client.uuid !== undefined ? { uuid: client.uuid } : {}),
      ...(ip !== undefined ? { ip } : {})
    }, now).then(() => {
      this.lastWrite.set(c.mac, now.getTime())
      this.healthy = true
    }, (err: unknown) => {
      this.healthy = false
      // Answered without waiting: nobody else will report it.
      if (!waited) this.log.warn({ err, mac: c.mac, xid: c.packet.xid }, 'machine sighting not recorded (answered already); waiting for the store from now on')
      throw err
    }).finally(() => { this.inflight.delete(c.mac) })
    write.catch(() => {})   // rejections are reported above or by the waiter: never unhandled
    this.inflight.set(c.mac, write)
    return write
  }
}
