// The machine inventory as seen from DHCP: every PXE machine that asks is recorded (ctx.store.machines), at
// most once per SIGHTING_INTERVAL_MS per MAC (a ROM retries every few seconds).
//
// Whether the reply waits for that write depends on what the store has shown us:
//  - until a write has succeeded, and after any write fails, the reply waits for it and a failure means silence
//    (DESIGN.md rule 3: warn with {mac, xid}, send nothing; the firmware retries);
//  - while the last write succeeded, the sighting goes into a bounded queue and the reply leaves at once; the queue
//    is drained outside the packet handler (setImmediate, then a timer while it is not empty), at most
//    SIGHTING_WRITES_PER_SECOND, and not at all in a round where the event loop is behind (the timer fired late):
//    replies come first, the store gets what is left. A boot storm of new machines is then limited by the DHCP
//    path, not by the store's write rate. A write that fails there is logged with {mac} and switches back to
//    waiting; the queue is dropped (those machines are recorded on their next packet).
import type { Logger } from '../log.js'
import type { Clock } from '../clock.js'
import type { MachineSighting, MachineStore } from '../store/types.js'
import type { Classified, PxeClient } from './classify.js'
import { performance } from 'node:perf_hooks'

/** Sightings of one MAC are written at most this often. */
export const SIGHTING_INTERVAL_MS = 10_000
/** Writes in flight at most while writing behind the reply (above SIGHTING_WRITE_BURST: the budget binds first). */
export const MAX_PENDING_SIGHTINGS = 128
/** Sightings queued at most while writing behind the reply; beyond it a first contact is not recorded yet. */
export const MAX_QUEUED_SIGHTINGS = 8192
/** The queue is drained every this often while not empty. */
export const SIGHTING_DRAIN_INTERVAL_MS = 20
/** A drain timer that fires this much late means the loop is saturated by requests: no writes that round. */
const DRAIN_SKIP_LAG_MS = 10
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
 * per-write cost on the main thread otherwise pushed DHCP latency past a second; at 1,000 writes/s the level
 * store's get + put still took ~40 % of a core and the first second of a 5,000/s storm queued up (p99 ~300 ms).
 */
export const SIGHTING_WRITES_PER_SECOND = 250
/** Token bucket depth: writes that may start at once after a quiet spell (small: a burst of writes at the start of a storm is what queued replies). */
export const SIGHTING_WRITE_BURST = 25
const SIGHTING_MAP_LIMIT = 100_000

export type Admission = 'answer' | 'silent' | 'overloaded'

interface Queued { sighting: MachineSighting, at: Date }

export class Inventory {
  private readonly lastWrite = new Map<string, number>()
  /** writes the replies wait for (store not proven healthy) */
  private readonly inflight = new Map<string, Promise<void>>()
  /** sightings to write behind the replies, oldest first */
  private readonly queue = new Map<string, Queued>()
  private behind = 0
  private drainScheduled = false
  /** the last completed write succeeded */
  private healthy = false
  private tokens = SIGHTING_WRITE_BURST
  private refilledAt = 0

  constructor (private readonly store: () => MachineStore, private readonly clock: Clock, private readonly log: Logger) {}

  /** Records the sighting as needed; says whether the request may be answered. Never rejects. */
  async admit (c: Classified, client: PxeClient): Promise<Admission> {
    if (this.healthy) {
      this.enqueue(c, client)
      return 'answer'
    }
    const pending = this.inflight.get(c.mac) ?? this.startWaitedWrite(c, client)
    if (pending === undefined) return 'answer'
    if (pending === 'full') return 'overloaded'
    try {
      await pending
      return 'answer'
    } catch (err) {
      this.log.warn({ err, mac: c.mac, xid: c.packet.xid }, 'cannot record machine sighting; not answering')
      return 'silent'
    }
  }

  /** The sighting to write, or undefined when this MAC was written less than SIGHTING_INTERVAL_MS ago. */
  private due (c: Classified, client: PxeClient, now: Date): MachineSighting | undefined {
    const last = this.lastWrite.get(c.mac)
    if (last !== undefined && now.getTime() - last < SIGHTING_INTERVAL_MS && now.getTime() >= last) return undefined
    const ip = c.packet.ciaddr !== '0.0.0.0' ? c.packet.ciaddr : undefined
    return {
      mac: c.mac, arch: client.arch, vendorClass: client.vendorClass,
      ...(client.uuid !== undefined ? { uuid: client.uuid } : {}),
      ...(ip !== undefined ? { ip } : {})
    }
  }

  private enqueue (c: Classified, client: PxeClient): void {
    if (this.queue.has(c.mac) || this.inflight.has(c.mac) || this.queue.size >= MAX_QUEUED_SIGHTINGS) return
    const now = this.clock.now()
    const sighting = this.due(c, client, now)
    if (sighting === undefined) return
    this.queue.set(c.mac, { sighting, at: now })
    this.scheduleDrain(0)
  }

  private scheduleDrain (delayMs: number): void {
    if (this.drainScheduled) return
    this.drainScheduled = true
    if (delayMs === 0) {
      setImmediate(() => { this.drainScheduled = false; this.drain(0) })
      return
    }
    const due = performance.now() + delayMs
    setTimeout(() => { this.drainScheduled = false; this.drain(performance.now() - due) }, delayMs).unref()
  }

  /** Starts queued writes within the budget; `lagMs`: how late this round runs (a busy loop skips writing). */
  private drain (lagMs: number): void {
    if (!this.healthy) { this.queue.clear(); return }
    if (lagMs < DRAIN_SKIP_LAG_MS) {
      const nowMs = this.clock.now().getTime()
      for (const [mac, q] of this.queue) {
        if (this.behind >= MAX_PENDING_SIGHTINGS || !this.takeToken(nowMs)) break
        this.queue.delete(mac)
        this.writeBehind(q)
      }
    }
    if (this.queue.size > 0) this.scheduleDrain(SIGHTING_DRAIN_INTERVAL_MS)
  }

  private writeBehind (q: Queued): void {
    this.behind++
    this.write(q.sighting, q.at).then(() => {}, (err: unknown) => {
      // Answered without waiting: nobody else will report it.
      this.log.warn({ err, mac: q.sighting.mac, dropped: this.queue.size }, 'machine sighting not recorded (answered already); waiting for the store from now on')
      this.queue.clear()
    }).finally(() => { this.behind-- })
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

  /** One store write; its outcome sets `healthy`. */
  private async write (sighting: MachineSighting, at: Date): Promise<void> {
    try {
      await this.store().recordSighting(sighting, at)
    } catch (err) {
      this.healthy = false
      throw err
    }
    if (this.lastWrite.size >= SIGHTING_MAP_LIMIT) this.lastWrite.clear()
    this.lastWrite.set(sighting.mac, at.getTime())
    this.healthy = true
  }

  private startWaitedWrite (c: Classified, client: PxeClient): Promise<void> | 'full' | undefined {
    const now = this.clock.now()
    const sighting = this.due(c, client, now)
    if (sighting === undefined) return undefined
    if (this.inflight.size >= MAX_WAITING_SIGHTINGS) return 'full'
    this.queue.delete(c.mac)
    const write = this.write(sighting, now).finally(() => { this.inflight.delete(c.mac) })
    write.catch(() => {})   // rejections are reported by the waiter: never unhandled
    this.inflight.set(c.mac, write)
    return write
  }
}
