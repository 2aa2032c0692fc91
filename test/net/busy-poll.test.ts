// BusyPoll keeps the loop turning until its deadline and no longer; AnswerTime decides whom it is worth it for.
import t from 'tap'
import { AnswerTime, BusyPoll, type BusyPollDeps } from '../../src/net/busy-poll.js'

function fakeLoop (): { now: number, queue: Array<() => void>, spins: number[], deps: BusyPollDeps, runAll: (advanceMs: number) => number } {
  const loop = {
    now: 1000,
    queue: [] as Array<() => void>,
    spins: [] as number[],
    // a spin advances the fake clock by its length, as a real one takes that long
    deps: { now: () => loop.now, schedule: (fn: () => void) => { loop.queue.push(fn) }, spin: (us: number) => { loop.spins.push(us); loop.now += us / 1000 } },
    /** runs scheduled turns, advancing the clock by advanceMs per turn; returns how many ran */
    runAll (advanceMs: number): number {
      let n = 0
      while (loop.queue.length > 0 && n < 10000) {
        loop.now += advanceMs
        loop.queue.shift()!()
        n++
      }
      return n
    }
  }
  return loop
}

t.test('polls until the deadline, then stops scheduling', async t => {
  const loop = fakeLoop()
  const p = new BusyPoll(loop.deps)
  p.hold(200)                     // 0.2 ms
  t.equal(p.active, true)
  const turns = loop.runAll(0.01) // 10 µs per turn
  t.equal(p.active, false, 'stopped by itself')
  t.ok(turns >= 19 && turns <= 21, `about 200/10 turns (${turns})`)
  t.equal(loop.queue.length, 0, 'nothing left scheduled')
})

t.test('with a slice, the thread spins that long between two polls: fewer turns for the same hold', async t => {
  const loop = fakeLoop()
  const p = new BusyPoll(loop.deps, 3)
  p.hold(300)
  const turns = loop.runAll(0.001)   // 1 µs per turn of its own, plus the 3 µs spin
  t.equal(p.active, false)
  t.ok(turns >= 74 && turns <= 77, `about 300/(1+3) turns (${turns})`)
  t.same(new Set(loop.spins), new Set([3]), 'every spin is one slice')
  t.equal(loop.spins.length, turns - 1, 'a spin after each turn but the last (the one that finds the deadline passed)')
  const none = fakeLoop()
  const q = new BusyPoll(none.deps)
  q.hold(300)
  none.runAll(0.001)
  t.equal(none.spins.length, 0, 'no slice: no spin')
})

t.test('prepare() does the one-off work of the spin up front, and only for a poll that spins', async t => {
  const loop = fakeLoop()
  let prepared = 0
  const deps = { ...loop.deps, prepare: () => { prepared++ } }
  new BusyPoll(deps, 0).prepare()
  t.equal(prepared, 0, 'no slice, nothing to prepare')
  new BusyPoll(deps, 3).prepare()
  t.equal(prepared, 1, 'a slice: prepared')
})

t.test('with the real clock and spin, a hold with a slice ends by itself', async t => {
  // How long a real spin lasts is a speed matter (bench/dhcp/diagnose.ts counts the GC pauses it saves), not a test:
  // under a loaded CI machine the wall time of any spin stretches. What must hold anywhere: it stops.
  const p = new BusyPoll(undefined, 100)
  p.hold(2000)
  t.equal(p.active, true)
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(p.active, false, 'stopped after the 2 ms hold')
  t.ok(p.turns > 0, 'it turned')
})

t.test('a later hold extends the deadline, an earlier one does not shorten it, 0 does nothing', async t => {
  const loop = fakeLoop()
  const p = new BusyPoll(loop.deps)
  p.hold(0)
  t.equal(p.active, false)
  t.equal(loop.queue.length, 0)
  p.hold(1000)
  p.hold(100)
  t.equal(loop.queue.length, 1, 'one chain of turns, not one per hold')
  const turns = loop.runAll(0.1)
  t.ok(turns >= 9 && turns <= 11, `the 1 ms hold wins (${turns} turns of 0.1 ms)`)
  t.equal(p.holds, 2)
})

t.test('hold while running only moves the deadline', async t => {
  const loop = fakeLoop()
  const p = new BusyPoll(loop.deps)
  p.hold(100)
  loop.now += 0.05
  loop.queue.shift()!()
  p.hold(100)
  t.equal(loop.queue.length, 1)
  const turns = loop.runAll(0.01)
  // without the second hold about 5 turns were left (0.05 ms); with it about 10 (until 0.15 ms after start)
  t.ok(turns >= 9 && turns <= 11, `deadline moved to 0.15 ms after start (${turns} more turns)`)
})

t.test('AnswerTime smooths answer times and polls only for peers within the budget', async t => {
  let now = 5000
  const a = new AnswerTime(() => now)
  t.equal(a.worthPolling(200), true, 'an unmeasured peer gets the benefit of the doubt')
  t.equal(a.worthPolling(0), false, 'budget 0 means off')
  a.sent(); now += 0.04; a.answered()
  t.equal(Math.round(a.micros), 40)
  t.equal(a.worthPolling(200), true)
  a.answered()
  t.equal(Math.round(a.micros), 40, 'an answer without a send is not a sample')
  for (let i = 0; i < 30; i++) { a.sent(); now += 3; a.answered() }
  t.ok(a.micros > 2900, `converges to a slow peer (${Math.round(a.micros)} µs)`)
  t.equal(a.worthPolling(200), false)
  for (let i = 0; i < 40; i++) { a.sent(); now += 0.05; a.answered() }
  t.equal(a.worthPolling(200), true, 'a peer that became fast is polled for again')
})
