// The DHCP service on its own thread (src/dhcp/thread/), as `netboot serve` runs it: real loopback sockets, a real
// worker thread; the store, config and logger live on the main thread.
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { createThreadedService } from '../../src/dhcp/thread/threaded-service.js'
import { decode, encode } from '../../src/dhcp/packet.js'
import { MessageType, Opt } from '../../src/dhcp/options.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createBrokenStore } from '../../src/store/broken.js'
import type { ConfigHolder } from '../../src/config/holder.js'
import type { AppConfig } from '../../src/config/schema.js'
import { createLogger, silentLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import { BindError } from '../../src/errors.js'
import type { Store } from '../../src/store/types.js'
import { clientPacket, testConfig } from './helpers.js'

/** A config holder whose reloads the test triggers. */
function reloadable (cfg: AppConfig): ConfigHolder & { reload (next: AppConfig): void } {
  let current = cfg
  const fns = new Set<(c: AppConfig) => void>()
  return {
    current: () => current,
    status: () => ({ ok: true, source: current.source, loadedAt: '', checkedAt: '', errors: [], warnings: [] }),
    onChange (fn) { fns.add(fn); return () => { fns.delete(fn) } },
    reload (next) { current = next; for (const fn of fns) fn(next) }
  }
}

const loopback = testConfig({ server: { bind: '127.0.0.1' }, ports: { dhcp: 0, proxyDhcp: 0 } })

/** A loopback client; `ask` sends a 4011 boot-item REQUEST (answered by unicast to ciaddr) and waits up to 1 s. */
async function client (t: Test, port: () => number): Promise<(mac: string) => Promise<Buffer | undefined>> {
  const sock = dgram.createSocket('udp4')
  sock.bind(0, '127.0.0.1')
  await once(sock, 'listening')
  t.teardown(() => sock.close())
  let xid = 1
  return async (mac) => {
    const reply = new Promise<Buffer | undefined>(resolve => {
      const timer = setTimeout(() => { sock.off('message', on); resolve(undefined) }, 1000)
      const on = (m: Buffer): void => { clearTimeout(timer); sock.off('message', on); resolve(m) }
      sock.on('message', on)
    })
    sock.send(encode(clientPacket({ mac, arch: 7, type: MessageType.REQUEST, ciaddr: '127.0.0.1', xid: xid++ })), port(), '127.0.0.1')
    return await reply
  }
}

async function until (cond: () => Promise<boolean>, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (await cond()) return true
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return false
}

t.test('requests are answered by a thread of its own, and its machines reach the main thread\'s store', async t => {
  const store = createMemoryStore()
  const svc = createThreadedService({ config: reloadable(loopback), store, log: silentLogger, clock: systemClock })!
  await svc.start()
  t.teardown(async () => { await svc.stop() })
  const tid = svc.threadId()
  t.ok(tid !== undefined && tid !== process.pid, `DHCP runs on another thread than the main one (tid ${tid})`)
  t.equal(readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), 'netboot-dhcp', 'named so top -H and ps -L show it')
  const ask = await client(t, () => svc.ports().proxyDhcp!)
  const reply = await ask('52:54:00:aa:00:01')
  t.equal(reply === undefined ? undefined : decode(reply).options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK, 'the 4011 REQUEST got its ACK')
  t.ok(await until(async () => (await store.machines.get('52:54:00:aa:00:01')) !== undefined), 'the sighting was written to the main thread\'s store')
  t.match(await store.machines.list(), [{ mac: '52:54:00:aa:00:01', arch: 'efi-x64' }], 'that machine only: the warm-up\'s never arrive')
})

t.test('a config reload reaches the thread: the next request is judged by the new config', async t => {
  const store = createMemoryStore()
  const config = reloadable(loopback)
  const svc = createThreadedService({ config, store, log: silentLogger, clock: systemClock })!
  await svc.start()
  t.teardown(async () => { await svc.stop() })
  const ask = await client(t, () => svc.ports().proxyDhcp!)
  t.ok(await ask('52:54:00:aa:00:02') !== undefined, 'answered under dhcp.answer: all')
  config.reload({ ...loopback, dhcp: { ...loopback.dhcp, answer: 'known' } })
  let silent = false
  // The reload is a message to the thread: give it a moment, then an unknown machine must get no answer.
  for (let i = 0; i < 20 && !silent; i++) silent = await ask(`52:54:00:bb:00:${i.toString(16).padStart(2, '0')}`) === undefined
  t.ok(silent, 'an unknown machine is not answered under dhcp.answer: known')
  t.ok(await ask('52:54:00:aa:00:02') !== undefined, 'the machine already in the inventory still is (the gate read the main thread\'s store)')
})

t.test('a port that cannot be bound fails start() with a BindError, as on the main thread', async t => {
  const holder = dgram.createSocket('udp4')
  holder.bind({ port: 0, address: '127.0.0.1', exclusive: true })
  await once(holder, 'listening')
  t.teardown(() => holder.close())
  const cfg = testConfig({ server: { bind: '127.0.0.1' }, ports: { dhcp: holder.address().port, proxyDhcp: 0 } })
  const svc = createThreadedService({ config: reloadable(cfg), store: createMemoryStore(), log: silentLogger, clock: systemClock })!
  const err = await svc.start().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof BindError, 'a BindError (serve exits 2 with its hint)')
  t.match((err as Error).message, new RegExp(`dhcp cannot bind 127\\.0\\.0\\.1:${holder.address().port} \\(EADDRINUSE\\): another program already uses port`))
  t.equal(svc.threadId(), undefined, 'and no thread is left running')
  await svc.stop()
})

t.test('the thread logs through the main logger; a store that fails keeps DHCP silent (DESIGN.md rule 3)', async t => {
  const lines: Array<Record<string, unknown>> = []
  const out = new PassThrough()
  out.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)) })
  const log = createLogger({ level: 'info', destination: out })
  const store: Store = createBrokenStore()
  const svc = createThreadedService({ config: reloadable(loopback), store, log, clock: systemClock })!
  await svc.start()
  t.teardown(async () => { await svc.stop() })
  t.ok(lines.some(l => l.msg === 'dhcp listening' && l.proto === 'dhcp' && l.svc === 'netboot'), 'the thread\'s "dhcp listening" line, with its bindings')
  const probe = lines.find(l => typeof l.msg === 'string' && l.msg.startsWith('state store failed its start-up probe'))
  t.match(probe, { level: 40, err: { message: /injected failure/ } }, 'the store error crossed the thread with its message')
  const ask = await client(t, () => svc.ports().proxyDhcp!)
  t.equal(await ask('52:54:00:aa:00:03'), undefined, 'a machine whose sighting cannot be written gets no answer')
  t.ok(await until(async () => lines.some(l => l.msg === 'cannot record machine sighting; not answering' && l.mac === '52:54:00:aa:00:03')), 'and the warning says why')
})

t.test('stop() has the thread write the sightings still queued behind the storm, through the main thread\'s store', async t => {
  const store = createMemoryStore()
  const svc = createThreadedService({ config: reloadable(loopback), store, log: silentLogger, clock: systemClock })!
  await svc.start()
  const ask = await client(t, () => svc.ports().proxyDhcp!)
  const macs = Array.from({ length: 5 }, (_, i) => `52:54:00:aa:01:0${i}`)
  for (const mac of macs) t.ok(await ask(mac), `${mac} answered`)
  const stopping = performance.now()
  await svc.stop()
  t.same((await store.machines.list()).map(m => m.mac).sort(), macs, 'every machine recorded by the time stop() resolved')
  // A timer left behind by the flush (2 s) would keep the thread alive that long; a stop takes ~0.1 s.
  t.ok(performance.now() - stopping < 1500, `and the thread ended promptly (${Math.round(performance.now() - stopping)} ms)`)
})

t.test('stop() closes the sockets and ends the thread', async t => {
  const svc = createThreadedService({ config: reloadable(loopback), store: createMemoryStore(), log: silentLogger, clock: systemClock })!
  await svc.start()
  const port = svc.ports().proxyDhcp!
  const tid = svc.threadId()
  await svc.stop()
  t.equal(svc.threadId(), undefined)
  t.ok(await until(async () => { try { readFileSync(`/proc/self/task/${tid}/comm`); return false } catch { return true } }), 'the thread is gone')
  const again = dgram.createSocket('udp4')
  again.bind({ port, address: '127.0.0.1', exclusive: true })
  await once(again, 'listening')
  t.pass(`port ${port} can be bound again`)
  again.close()
})

t.test('a DHCP thread that dies is logged and started again, backing off while it keeps dying; stop() ends that', async t => {
  const lines: Array<Record<string, unknown>> = []
  const out = new PassThrough()
  out.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)) })
  const log = createLogger({ level: 'info', destination: out })
  const entry = new URL('./thread-crash-stand-in.ts', import.meta.url).href
  const svc = createThreadedService({ config: reloadable(loopback), store: createMemoryStore(), log, clock: systemClock }, { entry })!
  await svc.start()
  const first = svc.threadId()
  t.ok(first !== undefined, 'started')
  const restarts = (): Array<Record<string, unknown>> => lines.filter(l => l.msg === 'the DHCP thread stopped unexpectedly: starting it again')
  t.ok(await until(async () => restarts().length >= 2, 3000), 'it died, was started again after 1 s, and died again')
  t.match(lines.find(l => l.msg === 'the DHCP thread failed (bug)'), { level: 50, err: { message: 'stand-in DHCP thread bug' } }, 'the thread\'s error is logged')
  t.same(restarts().slice(0, 2).map(l => l.restartInMs), [1000, 2000], 'the delay doubles while it keeps dying')
  await svc.stop()
  const after = restarts().length
  await new Promise(resolve => setTimeout(resolve, 2300))
  t.equal(restarts().length, after, 'no restart after stop()')
  t.equal(lines.filter(l => l.msg === 'the DHCP thread failed (bug)').length, after, 'and no thread ran after stop()')
})

t.test('start() warms the main thread\'s store path (Store.warmUp) while the thread warms up; a failing one is harmless', async t => {
  let calls = 0
  const store: Store = { ...createMemoryStore(), warmUp: async () => { calls++; throw new Error('scratch disk full') } }
  const svc = createThreadedService({ config: reloadable(loopback), store, log: silentLogger, clock: systemClock })!
  await svc.start()
  t.teardown(async () => { await svc.stop() })
  t.equal(calls, 1, 'Store.warmUp ran once')
  t.ok(svc.ports().proxyDhcp !== undefined, 'and the service started anyway')
})

/** A thread's nice value, as the kernel has it (/proc/…/stat field 19). */
function niceOf (tid: number): number {
  const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'latin1')
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
}

const isRoot = process.getuid?.() === 0
for (const boost of [5, 0]) {
  t.test(`dhcp.threadPriorityBoost ${boost}: the DHCP thread runs ${boost} nice levels above the main thread`, { skip: isRoot ? false : 'raising a priority needs root' }, async t => {
    const out = new PassThrough()
    let text = ''
    out.on('data', (b: Buffer) => { text += b.toString() })
    const log = createLogger({ level: 'info', destination: out })
    const cfg = { ...loopback, dhcp: { ...loopback.dhcp, threadPriorityBoost: boost } }
    const svc = createThreadedService({ config: reloadable(cfg), store: createMemoryStore(), log, clock: systemClock })!
    await svc.start()
    t.teardown(async () => { await svc.stop() })
    const tid = svc.threadId() as number
    const main = niceOf(process.pid)
    t.equal(niceOf(tid), Math.max(-20, main - boost), `thread nice ${niceOf(tid)}, main thread ${main}`)
    t.equal(niceOf(process.pid), main, 'the main thread keeps its own')
    if (boost > 0) t.match(text, /"nice":-?\d+,"processNice":-?\d+,"msg":"dhcp thread runs at a higher priority than the rest of the process"/)
    else t.match(text, /"why":"dhcp.threadPriorityBoost is 0","msg":"dhcp thread priority left as the process's"/)
  })
}
