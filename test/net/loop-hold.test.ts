// native/udp-batch/loop_hold.c through src/net/udp-batch.ts NativeLoopHold: a hold keeps the thread's loop turning
// (polling with a zero timeout) for as long as asked and no longer, allocates no JavaScript per turn, never keeps a
// thread alive by itself, and goes away with the thread.
import t from 'tap'
import { Worker } from 'node:worker_threads'
import { Session } from 'node:inspector/promises'
import { BusyPoll } from '../../src/net/busy-poll.js'
import dgram from 'node:dgram'
import { spawnSync } from 'node:child_process'
import { loadUdpBatch, BatchUdpSocket, NativeLoopHold, type BatchHandlers, type UdpBatchBinding } from '../../src/net/udp-batch.js'

const loaded = loadUdpBatch()
const binding = loaded.binding as UdpBatchBinding
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

t.test('the addon exports the hold', async t => {
  t.equal(loaded.reason, undefined, 'built and loaded')
  t.type(binding.hold, 'function')
  t.type(binding.holdTurns, 'function')
})

/** Polls `f` every millisecond until it is true or `ms` have passed; returns its last value. */
async function within (ms: number, f: () => boolean): Promise<boolean> {
  const until = Date.now() + ms
  while (!f() && Date.now() < until) await sleep(1)
  return f()
}

// Windows are generous: in a suite running files in parallel on two CPUs the process can wait tens of ms for a CPU,
// and a loop that has not run cannot have turned (measured: one turn in 15 ms, once, in a full run).
t.test('a hold turns the loop while it lasts, then the loop sleeps again', async t => {
  const h = new NativeLoopHold(binding)
  t.equal(h.turns, 0, 'no turns before a hold')
  const start = Date.now()
  h.hold(300_000)
  // a quiet held loop turns every 2–50 µs (SLICE_NS): 20 turns take well under a millisecond of CPU
  t.ok(await within(250, () => h.turns >= 20), `the loop turned while held (${h.turns} turns)`)
  await sleep(Math.max(0, start + 350 - Date.now()))
  const after = h.turns
  const cpuBefore = process.cpuUsage()
  await sleep(100)
  const cpu = process.cpuUsage(cpuBefore)
  t.equal(h.turns, after, 'no turn once the 300 ms had passed')
  t.ok((cpu.user + cpu.system) / 1000 < 50, `the thread sleeps again: ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms of CPU in 100 ms`)
  t.equal(h.holds, 1)
})

t.test('a hold extends and never shortens; 0, negative and NaN hold nothing', async t => {
  const h = new NativeLoopHold(binding)
  const start = Date.now()
  h.hold(300_000)
  h.hold(10)
  await sleep(15)
  const a = h.turns
  t.ok(await within(200, () => h.turns > a), 'still turning after the later, shorter hold had run out')
  await sleep(Math.max(0, start + 350 - Date.now()))
  for (const v of [0, -5, NaN]) h.hold(v)
  t.equal(h.holds, 2, 'the two holds counted; the later ones held nothing')
  const settled = h.turns
  await sleep(20)
  t.equal(h.turns, settled, 'and the loop is not turning')
  t.throws(() => { (binding.hold as (x: unknown) => void)('300') }, TypeError, 'a hold of something else than a number is a TypeError')
})

/** Bytes this thread allocated while `during` ran (V8's sampling heap profiler, collected objects included). */
async function allocated (during: () => Promise<void>): Promise<number> {
  const session = new Session()
  session.connect()
  try {
    await session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never)
    await during()
    const { profile } = await session.post('HeapProfiler.stopSampling')
    let bytes = 0
    const walk = (node: typeof profile.head): void => { bytes += node.selfSize; for (const c of node.children) walk(c) }
    walk(profile.head)
    return bytes
  } finally {
    session.disconnect()
  }
}

t.test('a held loop makes a fraction of the garbage of net/busy-poll.ts (no JavaScript per turn)', async t => {
  const js = new BusyPoll(undefined, 3)
  const native = new NativeLoopHold(binding)
  // as in the DHCP thread: a socket of the addon's to poll between turns
  const sock = BatchUdpSocket.open(binding, '127.0.0.1', 0, 0, { datagram: () => {}, truncated: () => {}, dropped: () => {}, error: () => {} })
  t.teardown(() => { sock.close() })
  const byJs = await allocated(async () => { js.hold(200_000); await sleep(220) })
  const byNative = await allocated(async () => { native.hold(200_000); await sleep(220) })
  // a quiet loop held by the addon turns every 50 µs while it has a socket to poll, every 2 µs without
  t.ok(js.turns > 1000 && native.turns > 100, `both held the loop (${js.turns} and ${native.turns} turns)`)
  // measured: ~10 MB against ~0.4 MB (the rest of Node's turn, its check phase, still allocates ~60 bytes per turn)
  t.ok(byJs > 1e6, `held from JavaScript, the loop allocated ${(byJs / 1e6).toFixed(1)} MB in 0.2 s`)
  t.ok(byNative * 5 < byJs, `held by the addon, ${(byNative / 1e6).toFixed(2)} MB`)
})

t.test('a hold does not keep a worker thread alive, and the thread ends cleanly while held', async t => {
  const w = new Worker(`
    const b = require(require('node:worker_threads').workerData)
    b.hold(1e6)   // a second, the longest a hold may be
  `, { eval: true, workerData: loaded.path })
  const started = Date.now()
  const code = await new Promise<number>(resolve => w.once('exit', resolve))
  t.equal(code, 0, 'exit code 0')
  t.ok(Date.now() - started < 900, `ended before the hold would have run out (${Date.now() - started} ms)`)
})

t.test('a worker terminated while its loop is held ends, and the process goes on', async t => {
  const w = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const b = require(workerData)
    setInterval(() => b.hold(1e6), 10)
    parentPort.postMessage('held')
  `, { eval: true, workerData: loaded.path })
  await new Promise(resolve => w.once('message', resolve))
  await sleep(20)
  t.equal(await w.terminate(), 1, 'terminated')
  const h = new NativeLoopHold(binding)
  h.hold(1000)
  await sleep(5)
  t.pass('this thread still holds its own loop afterwards')
})

t.test('a held loop reads its sockets itself: every datagram once, in order, from both sockets', async t => {
  const got: Record<string, number[]> = { a: [], b: [] }
  const open = (name: string): BatchUdpSocket => BatchUdpSocket.open(binding, '127.0.0.1', 0, 1 << 20, {
    datagram: (msg) => { got[name].push(msg.readUInt32BE(0)); native.hold(2000) },
    truncated: () => t.fail('truncated'), dropped: (n) => t.fail(`dropped ${n}`), error: (err) => t.fail(String(err))
  })
  const native = new NativeLoopHold(binding)
  const a = open('a')
  const b = open('b')
  const c = dgram.createSocket('udp4')
  t.teardown(() => { a.close(); b.close(); c.close() })
  native.hold(100_000)
  const turnsBefore = native.turns
  for (let i = 0; i < 2000; i++) {
    const m = Buffer.alloc(8)
    m.writeUInt32BE(i, 0)
    c.send(m, (i % 2 === 0 ? a : b).port() as number, '127.0.0.1')
    if (i % 50 === 49) await sleep(1)
  }
  t.ok(await within(3000, () => got.a.length + got.b.length >= 2000), `all arrived (${got.a.length + got.b.length})`)
  await sleep(20)
  t.same(got.a, Array.from({ length: 1000 }, (_, i) => 2 * i), 'socket a: each of its datagrams once, in order')
  t.same(got.b, Array.from({ length: 1000 }, (_, i) => 2 * i + 1), 'socket b: the same')
  t.ok(native.turns > turnsBefore, 'the hold turned meanwhile')
})

t.test('a socket closed by its own handler while the loop is held leaves the hold; the other goes on', async t => {
  const native = new NativeLoopHold(binding)
  let aGot = 0
  let bGot = 0
  const handlers = (on: () => void): BatchHandlers => ({ datagram: on, truncated: () => {}, dropped: () => {}, error: (err) => t.fail(String(err)) })
  const a: BatchUdpSocket = BatchUdpSocket.open(binding, '127.0.0.1', 0, 0, handlers(() => { aGot++; a.close() }))
  const b = BatchUdpSocket.open(binding, '127.0.0.1', 0, 0, handlers(() => { bGot++ }))
  const aPort = a.port() as number
  const c = dgram.createSocket('udp4')
  t.teardown(() => { b.close(); c.close() })
  native.hold(200_000)
  for (let i = 0; i < 5; i++) c.send(Buffer.from('x'), aPort, '127.0.0.1')
  t.ok(await within(1000, () => aGot > 0), 'a read its first datagram and closed itself')
  for (let i = 0; i < 5; i++) c.send(Buffer.from('y'), b.port() as number, '127.0.0.1')
  t.ok(await within(1000, () => bGot === 5), `b read all of its datagrams (${bGot})`)
  t.equal(aGot, 1, 'a got nothing after it closed, not even the rest of its batch')
  t.equal(a.port(), undefined, 'a is closed')
})

// Node unloads an addon with the environment of the worker that loaded it. When no other thread of the process has
// it loaded (the appliance's DHCP thread is the only one), a close callback of the addon's that libuv runs after the
// unload crashes the process (SIGSEGV in uv__finish_close: measured with a synchronous cleanup hook). So these run
// in a process of their own, where only a worker loads the addon.
const cases: Array<[string, string]> = [
  ['a socket closed just before the worker ends', `const h = open(); b.hold(1000); setTimeout(() => b.close(h), 5)`],
  ['a socket left open when the worker ends (process.exit in the worker)', `open(); b.hold(1000); setTimeout(() => process.exit(0), 10)`],
  ['a loop held when the worker ends', `open(); setInterval(() => b.hold(1e6), 1); setTimeout(() => process.exit(0), 20)`],
  ['a worker that only held its loop', `b.hold(1e6); setTimeout(() => {}, 10)`]
]
for (const [name, body] of cases) {
  t.test(`${name}: the worker ends, the process exits 0`, async t => {
    const script = `
      const { Worker } = require('node:worker_threads')
      const w = new Worker(\`
        const b = require(require('node:worker_threads').workerData)
        const open = () => b.open('127.0.0.1', 0, 0, new ArrayBuffer(b.BATCH * b.SLOT_BYTES), new ArrayBuffer(b.BATCH * b.META_FIELDS * 4), () => {})
        ${body}
      \`, { eval: true, workerData: ${JSON.stringify(loaded.path)} })
      w.on('exit', code => { console.log('worker exit ' + code) })`
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 })
    t.equal(r.signal, null, `no signal (${r.signal ?? 'none'})`)
    t.equal(r.status, 0, `exit 0 ${r.stderr}`)
    t.match(r.stdout, /worker exit 0/, 'the worker ended normally')
  })
}
