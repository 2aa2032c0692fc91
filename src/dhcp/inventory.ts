// The machine inventory as seen from DHCP: every PXE machine that asks is recorded (ctx.store.machines), at
// most once per SIGHTING_INTERVAL_MS per MAC (a ROM retries every few seconds).
//
// Whether the reply waits for that write depends on what the store has shown us (its health, kept per
// MachineStore object so that the service's start-up probe and the Responder's Inventory see the same thing):
//  - until the store is proven (Inventory.probe before the sockets open, or a first write that succeeded), and
//    after any write fails, the reply waits for the write and a failure means silence (DESIGN.md rule 3: warn
//    with {mac, xid}, send nothing; the firmware retries);
//  - while it is proven, the sighting goes into a bounded queue and the reply leaves at once. The queue is drained
//    behind the storm: once no PXE request has come for SIGHTING_QUIET_MS, or once the queue has waited
//    SIGHTING_MAX_WAIT_MS (a network that is never quiet still gets its machines recorded), by ONE
//    machines.recordSightings per round (a timer) for up to SIGHTING_BATCH_MAX sightings, one batch in flight at a
//    time, and no round while the event loop is behind (the timer fired late): replies come first, the store gets
//    what is left. A batch that fails is logged with its MAC count and switches back to waiting; the queue is
//    dropped (those machines are recorded on their next packet).
// Why behind the storm: recording 1,000 new machines in a cold storm's first 0.3 s (main thread, LevelDB's threads,
// and V8's workers for both) took the CPU from the DHCP thread and the clients; with the writes held until the storm
// ended, the first 0.5 s of a cold 5,000/s storm had 11–38 replies over 0.15 ms instead of 53–126 (bench/dhcp/
// README.md, fourteenth pass).
// Measured (test/store/sightings-bench.ts, level store, warm): 1,000 sightings cost the main thread ~57–68 ms as
// 1,000 recordSighting calls and ~13–21 ms as recordSightings batches, so the old per-write token bucket (250/s)
// no longer earns its place: one batch of 256 is ~4–5 ms of main-thread work, split between the read and the write.
import type { Logger } from '../log.js'
import type { Clock } from '../clock.js'
import type { MachineSighting, MachineStore } from '../store/types.js'
import type { Classified, PxeClient } from './classify.js'
import { performance } from 'node:perf_hooks'

/** Sightings of one MAC are written at most this often. */
export const SIGHTING_INTERVAL_MS = 10_000
/**
 * Sightings written at most by one drain round: one machines.recordSightings call (one read, one batch write). 64
 * blocks the main thread ~0.8 ms on level (256: ~3 ms, visible in the first second of a storm), and 64 per 20 ms
 * round is still 3,200 new machines/s.
 */
export const SIGHTING_BATCH_MAX = 64
/** Sightings queued at most while writing behind the reply; beyond it a first contact is not recorded yet. */
export const MAX_QUEUED_SIGHTINGS = 8192
/** The queue is drained every this often while not empty (after the batch in flight has ended). */
export const SIGHTING_DRAIN_INTERVAL_MS = 20
/**
 * Sightings wait until no PXE request has come for this long. A boot storm's requests are microseconds to a few
 * milliseconds apart; a network where a machine boots now and then is quiet again within this.
 */
export const SIGHTING_QUIET_MS = 100
/**
 * ...or until the queue has waited this long, whatever the traffic: the inventory's lastSeen is only kept to
 * SIGHTING_INTERVAL_MS anyway.
 */
export const SIGHTING_MAX_WAIT_MS = SIGHTING_INTERVAL_MS

/** When the queue is drained (tests shorten both). */
export interface SightingTiming { quietMs: number, maxWaitMs: number }
/** A drain timer that fires this much late means the loop is saturated by requests: no writes that round. */
const DRAIN_SKIP_LAG_MS = 10
/**
 * Writes in flight at most while replies wait for them (store not proven, or after a failure); beyond it a first
 * contact is dropped unanswered (the firmware retries). Small, so a storm does not queue behind a store that has
 * not answered yet: the first success switches to writing behind.
 */
export const MAX_WAITING_SIGHTINGS = 32
/** Inventory.flush (the service stopping) gives up after this long; the DHCP thread is terminated after 5 s. */
export const FLUSH_TIMEOUT_MS = 2000
/** Inventory.probe gives up after this long: the service starts anyway, replies wait for writes (rule 3). */
export const PROBE_TIMEOUT_MS = 5000
const SIGHTING_MAP_LIMIT = 100_000

export type Admission = 'answer' | 'silent' | 'overloaded'

/** A sighting waiting to be written: its time (the clock's, what is stored) and since when it waits (performance.now()). */
interface Queued { sighting: MachineSighting, at: Date, since: number }
interface Health { proven: boolean }

const healthByStore = new WeakMap<MachineStore, Health>()

function healthOf (m: MachineStore): Health {
  let h = healthByStore.get(m)
  if (h === undefined) {
    h = { proven: false }
    healthByStore.set(m, h)
  }
  return h
}

export class Inventory {
  /**
   * Proves `machines` healthy with a real write and read (MachineStore.ping), so the first DISCOVERs after start
   * are answered without waiting for their writes and LevelDB and the thread pool are warm. Rejects (and the store
   * stays unproven: replies wait for writes) when the ping fails or takes longer than `timeoutMs`; a ping that
   * succeeds after the timeout still proves the store (it works, only slowly).
   */
  static async probe (machines: MachineStore, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`state store did not answer within ${timeoutMs} ms`)) }, timeoutMs)
      timer.unref()
    })
    const ping = machines.ping().then(() => { healthOf(machines).proven = true }, (err: unknown) => {
      healthOf(machines).proven = false
      throw err
    })
    try {
      await Promise.race([ping, timeout])
    } finally {
      clearTimeout(timer)
      ping.catch(() => {})  // a ping that fails after the timeout is not an unhandled rejection
    }
  }

  /**
   * Sets what is known of `machines`' health (DhcpService after a warm-up in dry run, whose stub answers proved
   * nothing about the real store): false makes replies wait for writes until one succeeds.
   */
  static setProven (machines: MachineStore, proven: boolean): void {
    healthOf(machines).proven = proven
  }

  /** Whether replies currently go out without waiting for the sighting write (tests, status). */
  static isProven (machines: MachineStore): boolean {
    return healthByStore.get(machines)?.proven === true
  }

  private readonly lastWrite = new Map<string, number>()
  /** writes the replies wait for (store not proven) */
  private readonly inflight = new Map<string, Promise<void>>()
  /** sightings to write behind the replies, oldest first */
  private readonly queue = new Map<string, Queued>()
  /** the batch being written behind the replies */
  private batch: Map<string, Queued> | undefined
  /** settles when the batch in flight has ended */
  private batchDone: Promise<void> = Promise.resolve()
  private drainScheduled = false
  /** performance.now() of the last PXE request admitted */
  private lastRequestAt = -Infinity

  constructor (private readonly store: () => MachineStore, private readonly clock: Clock, private readonly log: Logger,
    private readonly timing: SightingTiming = { quietMs: SIGHTING_QUIET_MS, maxWaitMs: SIGHTING_MAX_WAIT_MS }) {}

  private get health (): Health { return healthOf(this.store()) }

  /**
   * Waits until no write is in flight (polling every millisecond, up to `timeoutMs`), then forgets every sighting
   * queued or remembered. The service calls it after the warm-up, before it points the store accessor at the real
   * store: a write still in flight would otherwise report its outcome against the real store's health.
   */
  async reset (timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
    const until = performance.now() + timeoutMs
    while ((this.batch !== undefined || this.inflight.size > 0) && performance.now() < until) {
      await new Promise(resolve => setTimeout(resolve, 1))
    }
    this.queue.clear()
    this.lastWrite.clear()
  }

  /** Records the sighting as needed; says whether the request may be answered. Never rejects. */
  async admit (c: Classified, client: PxeClient): Promise<Admission> {
    this.lastRequestAt = performance.now()
    if (this.health.proven) {
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
    if (this.queue.has(c.mac) || this.inflight.has(c.mac) || this.batch?.has(c.mac) === true) return
    if (this.queue.size >= MAX_QUEUED_SIGHTINGS) return
    const now = this.clock.now()
    const sighting = this.due(c, client, now)
    if (sighting === undefined) return
    // No branch that runs once per storm here (say, "the queue was empty: note since when"): V8 only records type
    // feedback once a function has run a few times, and the warm-up's queue is empty only at its first request, so
    // such a branch deoptimized admit at a storm's first request (test/dhcp/warmup-deopt.test.ts).
    this.queue.set(c.mac, { sighting, at: now, since: this.lastRequestAt })
    this.scheduleDrain(this.timing.quietMs)
  }

  private scheduleDrain (delayMs: number): void {
    if (this.drainScheduled) return
    this.drainScheduled = true
    // drain() takes whether the timer fired late, not the lag itself: a number that was a small integer in the warm-up
    // and a double in a storm deoptimized drain at the first timer round of a storm (`not a Smi`, bench/dhcp/
    // README.md, fourteenth pass).
    const due = performance.now() + delayMs
    setTimeout(() => { this.drainScheduled = false; this.drain(performance.now() - due >= DRAIN_SKIP_LAG_MS) }, delayMs).unref()
  }

  /** Takes up to SIGHTING_BATCH_MAX queued sightings into one batch; `late`: this round's timer fired late. */
  private drain (late: boolean): void {
    if (!this.health.proven) { this.queue.clear(); return }
    if (this.batch !== undefined) return   // its end schedules the next round
    if (late) {
      if (this.queue.size > 0) this.scheduleDrain(SIGHTING_DRAIN_INTERVAL_MS)
      return
    }
    if (this.queue.size === 0) return
    // Behind the storm: not while requests keep coming, unless the queue has waited its longest.
    const now = performance.now()
    const quietIn = this.lastRequestAt + this.timing.quietMs - now
    const oldest = this.queue.values().next().value as Queued   // Map order: the first queued
    const overdueIn = oldest.since + this.timing.maxWaitMs - now
    if (quietIn > 0 && overdueIn > 0) {
      this.scheduleDrain(Math.max(1, Math.min(quietIn, overdueIn)))
      return
    }
    void this.writeBatch(this.takeBatch())
  }

  /**
   * Writes every queued sighting now, quiet or not: the service is stopping, and what is still queued would otherwise
   * be lost until those machines ask again. Rounds of SIGHTING_BATCH_MAX back to back, for up to `timeoutMs`;
   * resolves with how many sightings were left unwritten (the store failed or was too slow).
   */
  async flush (timeoutMs = FLUSH_TIMEOUT_MS): Promise<number> {
    // One deadline timer, cleared at the end: a timer left pending would keep the stopping thread alive until it fired.
    let timer: NodeJS.Timeout | undefined
    let expired = false
    const deadline = new Promise<void>(resolve => { timer = setTimeout(() => { expired = true; resolve() }, timeoutMs) })
    try {
      while (!expired && this.health.proven && (this.batch !== undefined || this.queue.size > 0)) {
        await Promise.race([this.batch !== undefined ? this.batchDone : this.writeBatch(this.takeBatch()), deadline])
      }
    } finally {
      clearTimeout(timer)
    }
    return this.queue.size + (this.batch?.size ?? 0)
  }

  /** Takes up to SIGHTING_BATCH_MAX queued sightings, oldest first. */
  private takeBatch (): Map<string, Queued> {
    const batch = new Map<string, Queued>()
    for (const [mac, q] of this.queue) {
      if (batch.size >= SIGHTING_BATCH_MAX) break
      this.queue.delete(mac)
      batch.set(mac, q)
    }
    return batch
  }

  /** Writes `batch` (one in flight at a time); resolves when it has ended, whatever its outcome. */
  private writeBatch (batch: Map<string, Queued>): Promise<void> {
    if (batch.size === 0) return Promise.resolve()
    this.batch = batch
    this.batchDone = this.writeMany([...batch.values()]).catch((err: unknown) => {
      // Answered without waiting: nobody else will report it.
      this.log.warn({ err, macs: batch.size, dropped: this.queue.size }, 'machine sightings not recorded (answered already); waiting for the store from now on')
      this.queue.clear()
    }).finally(() => {
      this.batch = undefined
      if (this.queue.size > 0) this.scheduleDrain(SIGHTING_DRAIN_INTERVAL_MS)
    })
    return this.batchDone
  }

  /** One batch write; its outcome sets the store's health. */
  private async writeMany (list: Queued[]): Promise<void> {
    try {
      // What the store takes, and no more: `since` is this queue's business (and the main thread's store code was
      // compiled for objects of this shape, Store.warmUp).
      await this.store().recordSightings(list.map(q => ({ sighting: q.sighting, at: q.at })))
    } catch (err) {
      this.health.proven = false
      throw err
    }
    for (const q of list) this.remember(q.sighting.mac, q.at)
    this.health.proven = true
  }

  /** One store write the reply waits for; its outcome sets the store's health. */
  private async write (sighting: MachineSighting, at: Date): Promise<void> {
    try {
      await this.store().recordSighting(sighting, at)
    } catch (err) {
      this.health.proven = false
      throw err
    }
    this.remember(sighting.mac, at)
    this.health.proven = true
  }

  private remember (mac: string, at: Date): void {
    if (this.lastWrite.size >= SIGHTING_MAP_LIMIT) this.lastWrite.clear()
    this.lastWrite.set(mac, at.getTime())
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
