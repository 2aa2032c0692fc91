// The inventory under a boot storm, on the real level store in a temp dir: a store proven at start-up (service
// start → Inventory.probe → machines.ping) answers the first DISCOVERs without waiting for their writes and records
// every machine in batches; a broken store still means silence (DESIGN.md rule 3); a failed batch switches back to
// waiting. The service test binds loopback only (ports chosen by the kernel) and talks UDP 4011 to it.
import t, { type Test } from 'tap'
import { createSocket } from 'node:dgram'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { PassThrough } from 'node:stream'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Responder, type Reply } from '../../src/dhcp/responder.js'
import { Inventory, SIGHTING_BATCH_MAX, SIGHTING_DRAIN_INTERVAL_MS } from '../../src/dhcp/inventory.js'
import { createService } from '../../src/dhcp/service.js'
import { decode, encode, type DhcpPacket } from '../../src/dhcp/packet.js'
import { MessageType, Opt } from '../../src/dhcp/options.js'
import { classify } from '../../src/dhcp/classify.js'
import { openLevelStore } from '../../src/store/level.js'
import { createBrokenStore, failingStore } from '../../src/store/broken.js'
import { staticConfig } from '../../src/config/holder.js'
import { createLogger, silentLogger, type Logger } from '../../src/log.js'
import { fixedClock } from '../../src/clock.js'
import type { MachineStore, Store } from '../../src/store/types.js'
import { clientPacket, testConfig, type ClientSpec } from './helpers.js'

const root = await mkdtemp(join(tmpdir(), 'nbd-inventory-'))
t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
let dbs = 0

async function levelStore (t: Test): Promise<Store> {
  const s = await openLevelStore(join(root, `db${dbs++}`))
  t.teardown(async () => { await s.close() })
  return s
}

/** JSON log lines written by a real pino logger, to assert on what an admin would read. */
function capturedLog (): { log: Logger, lines: () => Array<Record<string, any>> } {
  const out = new PassThrough()
  let text = ''
  out.on('data', (b: Buffer) => { text += b.toString() })
  const log = createLogger({ level: 'debug', destination: out })
  return { log, lines: () => text.split('\n').filter(l => l !== '').map(l => JSON.parse(l)) }
}

function responder (store: Store, log: Logger = silentLogger) {
  const cfg = testConfig()
  const ctx = { config: staticConfig(cfg), store, log, clock: fixedClock('2026-03-01T10:00:00Z') }
  const sent = new Map<string, DhcpPacket>()
  const r = new Responder(ctx, { shouldAnswer: async () => true }, async (x: Reply) => {
    const p = decode(x.buf)
    sent.set(p.chaddr.subarray(0, 6).toString('hex'), p)
  })
  const ask = async (s: ClientSpec): Promise<DhcpPacket | undefined> => {
    const key = clientPacket(s).chaddr.toString('hex')
    sent.delete(key)
    await r.handle(encode(clientPacket(s)), { address: '10.0.0.2', port: 68 }, 'dhcp')
    return sent.get(key)
  }
  return { ask }
}

const mac = (i: number): string => `52:54:05:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Waits (bounded) until `done()`; the test then asserts on the state, never on how long it took. */
async function until (done: () => Promise<boolean> | boolean, rounds = 500): Promise<void> {
  for (let i = 0; i < rounds && !(await done()); i++) await sleep(SIGHTING_DRAIN_INTERVAL_MS)
}

/** The machines collection with its writes held until `open()`; batch sizes recorded. Everything else passes. */
function held (inner: MachineStore): { machines: MachineStore, open: () => void, batches: number[], singles: () => number } {
  let open = (): void => {}
  const gate = new Promise<void>(resolve => { open = resolve })
  const batches: number[] = []
  let singles = 0
  const machines: MachineStore = {
    get: async (m) => await inner.get(m),
    list: async () => await inner.list(),
    update: async (m, p) => await inner.update(m, p),
    ping: async () => { await inner.ping() },
    recordSighting: async (s, at) => { singles++; await gate; return await inner.recordSighting(s, at) },
    recordSightings: async (list) => { batches.push(list.length); await gate; return await inner.recordSightings(list) }
  }
  return { machines, open, batches, singles: () => singles }
}

t.test('after a successful probe, a storm of new machines is answered without waiting, and every one is recorded', async t => {
  const level = await levelStore(t)
  const h = held(level.machines)
  const store: Store = { ...level, machines: h.machines }
  t.equal(Inventory.isProven(store.machines), false, 'a store nobody has probed is not trusted')
  await Inventory.probe(store.machines)
  t.equal(Inventory.isProven(store.machines), true)
  const { ask } = responder(store)
  const rest = Math.ceil(SIGHTING_BATCH_MAX / 3)   // a last, partial batch
  const n = 2 * SIGHTING_BATCH_MAX + rest
  const asks = Promise.all(Array.from({ length: n }, async (_, i) => await ask({ mac: mac(i), arch: i % 2 === 0 ? 0 : 7 })))
  // Every store write is held: replies that waited for their write would never come.
  const replies = await Promise.race([asks, sleep(10_000).then(() => 'stuck' as const)])
  t.not(replies, 'stuck', 'replies did not wait for the (held) writes')
  if (replies === 'stuck') { h.open(); await asks; return }
  t.equal(replies.filter(p => p?.options.get(Opt.MESSAGE_TYPE)?.[0] === MessageType.OFFER).length, n, 'every DISCOVER got its OFFER')
  t.same(await level.machines.list(), [], 'nothing written before the replies left')
  h.open()
  await until(async () => (await level.machines.list()).length >= n)
  const stored = await level.machines.list()
  t.equal(stored.length, n, 'every machine of the storm is in the store')
  t.same(stored.map(m => m.mac), Array.from({ length: n }, (_, i) => mac(i)))
  t.match(stored[1], { mac: mac(1), arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007:UNDI:003016', firstSeen: '2026-03-01T10:00:00.000Z' })
  t.same(h.batches, [SIGHTING_BATCH_MAX, SIGHTING_BATCH_MAX, rest], 'one recordSightings per drain round, at most SIGHTING_BATCH_MAX each')
  t.equal(h.singles(), 0, 'no single writes')
})

t.test('sightings are written behind the storm: once no request has come for quietMs, or once they have waited maxWaitMs', async t => {
  const level = await levelStore(t)
  const writes: number[] = []
  const machines: MachineStore = { ...level.machines, recordSightings: async (list) => { writes.push(list.length); return await level.machines.recordSightings(list) } }
  await Inventory.probe(machines)
  // Long thresholds against 20 ms between requests: only a test process stalled for a whole second could fail this.
  const inv = new Inventory(() => machines, fixedClock('2026-03-01T10:00:00Z'), silentLogger, { quietMs: 1000, maxWaitMs: 2500 })
  const request = async (m: string): Promise<void> => {
    const c = classify(clientPacket({ mac: m, arch: 7 }), 'dhcp', 'proxy')
    if (c.kind !== 'request' || c.pxe === undefined) throw new Error('not a PXE request')
    if (await inv.admit(c, c.pxe) !== 'answer') unanswered++
  }
  let unanswered = 0
  const keepAsking = async (ms: number, m: string): Promise<void> => {
    for (const end = performance.now() + ms; performance.now() < end;) { await request(m); await sleep(20) }
  }
  await request(mac(900))
  await keepAsking(1800, mac(901))   // a machine already queued: nothing new, but the service is busy
  t.same(writes, [], 'nothing written while requests kept coming (1.8 s, under maxWaitMs)')
  await until(() => writes.length > 0)
  t.same(writes, [2], 'written once the requests stopped')
  t.ok(await level.machines.get(mac(900)) !== undefined && await level.machines.get(mac(901)) !== undefined, 'both machines recorded')
  await request(mac(902))
  await keepAsking(4000, mac(903))
  t.same(writes, [2, 2], 'a network that is never quiet still gets its machines written, after maxWaitMs')
  t.equal(unanswered, 0, 'every request answered at once')
})

t.test('a broken store fails the probe, and then every new machine gets silence (rule 3)', async t => {
  const store = createBrokenStore()
  await t.rejects(Inventory.probe(store.machines), { code: 'NB_ERR_STORE' })
  t.equal(Inventory.isProven(store.machines), false)
  const c = capturedLog()
  const { ask } = responder(store, c.log)
  for (let i = 0; i < 3; i++) t.equal(await ask({ mac: mac(1), arch: 0, xid: i }), undefined, `DISCOVER ${i + 1}: silent`)
  t.match(c.lines().filter(l => l.msg === 'cannot record machine sighting; not answering'), [
    { level: 40, mac: mac(1), xid: 0 }, { level: 40, mac: mac(1), xid: 1 }, { level: 40, mac: mac(1), xid: 2 }
  ], 'a warning with mac and xid for each')
})

t.test('a probe that does not answer in time fails, and the store stays unproven', async t => {
  const level = await levelStore(t)
  const machines: MachineStore = { ...level.machines, ping: async () => await new Promise<void>(() => {}) }
  await t.rejects(Inventory.probe(machines, 50), { message: /did not answer within 50 ms/ })
  t.equal(Inventory.isProven(machines), false)
})

t.test('a failed batch switches back to waiting: the next new machine is silent until the store works again', async t => {
  const level = await levelStore(t)
  let broken = false
  const store = failingStore(level, (c, m) => broken && c === 'machines' && m.startsWith('recordSighting'))
  await Inventory.probe(store.machines)
  const c = capturedLog()
  const { ask } = responder(store, c.log)
  broken = true
  t.ok(await ask({ mac: mac(1), arch: 0 }), 'answered at once: the store was proven')
  t.ok(await ask({ mac: mac(2), arch: 0 }), 'answered at once: the failure is not known yet')
  await until(() => !Inventory.isProven(store.machines))
  t.equal(Inventory.isProven(store.machines), false, 'the failed batch un-proved the store')
  t.match(c.lines().filter(l => l.msg?.startsWith('machine sightings not recorded') === true), [{ level: 40, macs: 2 }], 'warned once, with the MAC count')
  t.equal(await ask({ mac: mac(3), arch: 0 }), undefined, 'waiting mode: the write failed, so silence')
  broken = false
  t.ok(await ask({ mac: mac(3), arch: 0 }), 'its retry is answered once the store works')
  t.equal(Inventory.isProven(store.machines), true, 'and the store is trusted again')
  t.same((await level.machines.list()).map(m => m.mac), [mac(3)], 'the failed batch wrote nothing; the retry is recorded')
  t.ok(await ask({ mac: mac(1), arch: 0 }), 'a machine of the failed batch is answered on its next DISCOVER')
  await until(async () => (await level.machines.list()).length >= 2)
  t.same((await level.machines.list()).map(m => m.mac), [mac(1), mac(3)], '...and recorded then')
})

/** The service on loopback, ports chosen by the kernel. */
const loopbackConfig = (): ReturnType<typeof testConfig> => testConfig({ server: { bind: '127.0.0.1', address: '127.0.0.1' }, ports: { dhcp: 0, proxyDhcp: 0 } })

/** A loopback client socket (closed after the test) and the replies it has received, decoded. */
async function loopbackClient (t: Test): Promise<{ client: ReturnType<typeof createSocket>, replies: DhcpPacket[] }> {
  const client = createSocket('udp4')
  t.teardown(() => { client.close() })
  client.bind(0, '127.0.0.1')
  await once(client, 'listening')
  const replies: DhcpPacket[] = []
  client.on('message', (m) => { replies.push(decode(m)) })
  return { client, replies }
}

t.test('service start: probes the store before the sockets open; a broken store still starts, with a warning, and stays silent', async t => {
  const cfg = loopbackConfig()
  const { client, replies } = await loopbackClient(t)
  // A PXE ROM that has its address unicasts a REQUEST to UDP 4011 and gets the ACK back (PXE spec 2.1 §2.2).
  const request = (i: number): Buffer => encode(clientPacket({ mac: mac(i), arch: 7, type: MessageType.REQUEST, ciaddr: '127.0.0.1', xid: i }))

  const level = await levelStore(t)
  const good = capturedLog()
  const svc = createService({ config: staticConfig(cfg), store: level, log: good.log, clock: fixedClock('2026-03-01T10:00:00Z') })!
  await svc.start()
  t.teardown(async () => { await svc.stop() })
  t.equal(Inventory.isProven(level.machines), true, 'the store was proven during start')
  client.send(request(1), svc.ports().proxyDhcp!, '127.0.0.1')
  await until(() => replies.length > 0)
  t.equal(replies[0]?.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK, 'ACK from the running service')
  await until(async () => (await level.machines.get(mac(1))) !== undefined)
  t.match(await level.machines.get(mac(1)), { arch: 'efi-x64' }, 'recorded behind the reply')
  t.equal(good.lines().filter(l => l.level >= 40 && /probe/.test(l.msg)).length, 0, 'no probe warning')

  const bad = capturedLog()
  const broken = createBrokenStore()
  const svc2 = createService({ config: staticConfig(cfg), store: broken, log: bad.log, clock: fixedClock('2026-03-01T10:00:00Z') })!
  await svc2.start()
  t.teardown(async () => { await svc2.stop() })
  t.match(bad.lines().filter(l => /start-up probe/.test(l.msg)), [{ level: 40, proto: 'dhcp', err: { message: /broken store/ } }], 'warned that the probe failed')
  const before = replies.length
  client.send(request(2), svc2.ports().proxyDhcp!, '127.0.0.1')
  await until(() => bad.lines().some(l => l.msg === 'cannot record machine sighting; not answering'))
  t.match(bad.lines().filter(l => l.msg === 'cannot record machine sighting; not answering'), [{ mac: mac(2), xid: 2 }], 'the request reached it, and the store failure was reported')
  t.equal(replies.length, before, 'and it sent nothing')
})

t.test('stopping the service writes the sightings still queued behind the storm', async t => {
  const { client, replies } = await loopbackClient(t)
  const level = await levelStore(t)
  const svc = createService({ config: staticConfig(loopbackConfig()), store: level, log: silentLogger, clock: fixedClock('2026-03-01T10:00:00Z') })!
  await svc.start()
  const n = 20
  for (let i = 0; i < n; i++) client.send(encode(clientPacket({ mac: mac(300 + i), arch: 7, type: MessageType.REQUEST, ciaddr: '127.0.0.1', xid: i })), svc.ports().proxyDhcp!, '127.0.0.1')
  await until(() => replies.length >= n)
  t.equal(replies.length, n, 'every machine answered')
  t.same(await level.machines.list(), [], 'nothing written yet: the storm might go on')
  await svc.stop()
  t.equal((await level.machines.list()).length, n, 'every machine recorded by the time stop() resolved')
})

t.test('flush gives up on a store that does not answer, and says how many sightings were left', async t => {
  const level = await levelStore(t)
  const h = held(level.machines)
  await Inventory.probe(h.machines)
  const inv = new Inventory(() => h.machines, fixedClock('2026-03-01T10:00:00Z'), silentLogger)
  for (let i = 0; i < SIGHTING_BATCH_MAX + 5; i++) {
    const c = classify(clientPacket({ mac: mac(400 + i), arch: 0 }), 'dhcp', 'proxy')
    if (c.kind === 'request' && c.pxe !== undefined) await inv.admit(c, c.pxe)
  }
  t.equal(await inv.flush(200), SIGHTING_BATCH_MAX + 5, 'the first batch hangs in the store: all of them left')
  h.open()
  t.equal(await inv.flush(5000), 0, 'once the store answers, the rest is written too')
  t.equal((await level.machines.list()).length, SIGHTING_BATCH_MAX + 5)
})
