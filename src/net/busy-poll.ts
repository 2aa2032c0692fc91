// Busy polling of the event loop: the user-space counterpart of Linux's SO_BUSY_POLL, which Node cannot set.
// After a datagram goes out whose answer is due within microseconds (a lockstep TFTP ACK on a LAN), the loop keeps
// turning through setImmediate, so libuv polls epoll with a zero timeout instead of blocking in epoll_wait until
// the answer wakes the thread. On the machines measured (2-vCPU VMs) that wake-up alone (halt, IPI, reschedule)
// cost more than everything else in a lockstep round trip: bench/tftp shows the difference side by side with
// tftpd-hpa, with the CPU time each server used. The cost is CPU: the main thread stays busy up to `budget`
// microseconds after each send, so callers hold it only for peers that answer within the budget.
import { performance } from 'node:perf_hooks'

export interface BusyPollDeps {
  /** milliseconds, fractional (performance.now) */
  now: () => number
  /** runs fn on the next turn of the loop, after pending I/O has been polled (setImmediate) */
  schedule: (fn: () => void) => void
  /** keeps the thread busy for about `micros` µs without allocating (between two polls) */
  spin: (micros: number) => void
  /** makes the first spin() cheap (the real one calibrates itself: ~10 ms of main thread, once) */
  prepare?: () => void
}

/** Iterations of spinLoop per µs, measured once: by prepare() or, failing that, the first spin. */
let spinsPerMicro = 0
let spinSink = 0

/** Integer arithmetic only, no clock call: V8 compiles it to a loop that allocates nothing. */
function spinLoop (iterations: number): number {
  let x = spinSink
  for (let i = 0; i < iterations; i++) x = (x * 31 + i) | 0
  return x
}

/** Times spinLoop once V8 has optimized it (the same call shape as in use, not just an on-stack replacement). */
function calibrate (): void {
  for (let i = 0; i < 100; i++) spinSink = spinLoop(10_000)
  let best = Infinity
  for (let r = 0; r < 3; r++) {
    const start = performance.now()
    spinSink = spinLoop(100_000)
    best = Math.min(best, performance.now() - start)
  }
  spinsPerMicro = Math.max(1, Math.round(100_000 / Math.max(0.001, best * 1000)))
}

/**
 * Calibrates unless done already. BusyPoll.prepare() calls it before the first spin: bench/dhcp (2026-11-24): lazily,
 * the calibration ran on the first DISCOVER of a storm in 2 of 3 runs (the start-up warm-up keeps the loop too busy
 * for a turn to spin) and held that reply and the ~60 behind it 10–16 ms.
 */
function prepareSpin (): void {
  if (spinsPerMicro === 0) calibrate()
}

function calibratedSpin (micros: number): void {
  prepareSpin()
  spinSink = spinLoop(micros * spinsPerMicro)
}

const realDeps: BusyPollDeps = { now: () => performance.now(), schedule: fn => { setImmediate(fn) }, spin: calibratedSpin, prepare: prepareSpin }

/** What keeps a thread's loop polling after a request: BusyPoll here, or the addon's (net/udp-batch.ts NativeLoopHold). */
export interface LoopHold {
  /** keeps the loop polling for at least `micros` µs from now (extends, never shortens); 0 or less does nothing */
  hold: (micros: number) => void
  /** one-off work done before the first hold, so that no request pays for it */
  prepare: () => void
  /** hold() calls that held (micros > 0) */
  readonly holds: number
  /** loop turns spent polling */
  readonly turns: number
}

export class BusyPoll implements LoopHold {
  private until = 0
  private running = false
  /** loop turns spent polling since creation (for logs and tests) */
  turns = 0
  /** hold() calls since creation */
  holds = 0

  /**
   * `sliceMicros`: how long the thread spins between two polls of the loop. 0 polls back to back; each turn then
   * allocates a few hundred bytes (the Immediate, the clock reading), which at ~1.5 million turns a second had V8
   * scavenge every ~25 ms during a DHCP storm (bench/dhcp/diagnose.ts). A slice of a few µs cuts the turns, and
   * the garbage, several-fold, for at most that much added latency.
   */
  constructor (private readonly deps: BusyPollDeps = realDeps, private readonly sliceMicros = 0) {}

  /** Does up front the one-off work of the first spin (calibration), so that no request pays for it. */
  prepare (): void {
    if (this.sliceMicros > 0) this.deps.prepare?.()
  }

  /** True while the loop is being kept busy. */
  get active (): boolean { return this.running }

  /** Keeps the loop polling for at least `micros` microseconds from now (extends, never shortens). */
  hold (micros: number): void {
    if (!(micros > 0)) return
    this.holds++
    const until = this.deps.now() + micros / 1000
    if (until > this.until) this.until = until
    if (this.running) return
    this.running = true
    this.deps.schedule(this.turn)
  }

  private readonly turn = (): void => {
    if (this.deps.now() >= this.until) {
      this.running = false
      return
    }
    this.turns++
    if (this.sliceMicros > 0) this.deps.spin(this.sliceMicros)
    this.deps.schedule(this.turn)
  }
}

/**
 * How long a peer takes to answer, smoothed (RFC 6298 style, gain 1/8), in microseconds: a peer slower than the
 * busy-poll budget is not polled for (spinning the whole budget would only burn CPU before sleeping anyway).
 */
export class AnswerTime {
  private sentAt = 0
  /** smoothed answer time in µs; 0 until measured */
  micros = 0

  constructor (private readonly now: () => number = () => performance.now()) {}

  sent (): void { this.sentAt = this.now() }

  answered (): void {
    if (this.sentAt === 0) return
    const sample = (this.now() - this.sentAt) * 1000
    this.sentAt = 0
    this.micros = this.micros === 0 ? sample : (7 * this.micros + sample) / 8
  }

  /** Whether polling for this peer's answer is worth `budget` µs: unmeasured peers get the benefit of the doubt. */
  worthPolling (budget: number): boolean { return budget > 0 && this.micros <= budget }
}
