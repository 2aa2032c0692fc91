// The per-packet pipeline without sockets: inventory, gate, store failures, full-mode DORA and leases.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Responder, MAX_WAITING_SIGHTINGS, MAX_QUEUED_FULL, type Reply } from '../../src/dhcp/responder.js'
import { Inventory, SIGHTING_BATCH_MAX } from '../../src/dhcp/inventory.js'
import { decode, encode, type DhcpPacket } from '../../src/dhcp/packet.js'
import { MessageType, Opt, optIp } from '../../src/dhcp/options.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { openLevelStore } from '../../src/store/level.js'
import { createBrokenStore, failingStore } from '../../src/store/broken.js'
import { fixedClock } from '../../src/clock.js'
import { silentLogger } from '../../src/log.js'
import type { AppConfig } from '../../src/config/schema.js'
import type { Store } from '../../src/store/types.js'
import type { DhcpGate } from '../../src/policy/types.js'
import { createDhcpGate } from '../../src/policy/gate.js'
import { FULL, SERVER, clientPacket, testConfig, type ClientSpec } from './helpers.js'

/** Waits (bounded: 5 s) until `done()`; the test then asserts on the state, never on how long it took. */
async function until (done: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 500 && !(await done()); i++) await new Promise(resolve => setTimeout(resolve, 10))
}

function harness (cfg: AppConfig, store: Store = createMemoryStore(), gate: DhcpGate = { shouldAnswer: async () => true }) {
  let current = cfg
  const sent: Reply[] = []
  const clock = fixedClock('2026-03-01T10:00:00Z')
  const ctx = { config: { current: () => current, status: () => ({}) as any, onChange: () => () => {} }, store, log: silentLogger, clock }
  const byMac = new Map<string, Array<{ seq: number, p: DhcpPacket }>>()
  const r = new Responder(ctx, gate, async (x) => {
    const p = decode(x.buf)
    const k = p.chaddr.toString('hex')
    byMac.set(k, [...(byMac.get(k) ?? []), { seq: sent.length, p }])
    sent.push(x)
  })
  const ask = async (s: ClientSpec, via: 'dhcp' | 'proxy' = 'dhcp'): Promise<DhcpPacket | undefined> => {
    const before = sent.length
    await r.handle(encode(clientPacket(s)), { address: s.ciaddr ?? '0.0.0.0', port: via === 'proxy' ? 4011 : 68 }, via)
    // Concurrent asks: pick the reply to this MAC among those sent since.
    const mine = (byMac.get(clientPacket(s).chaddr.toString('hex')) ?? []).filter(e => e.seq >= before)
    return mine[mine.length - 1]?.p
  }
  return { r, sent, clock, store, ask, setConfig: (c: AppConfig) => { current = c } }
}

const mt = (p: DhcpPacket | undefined) => p?.options.get(Opt.MESSAGE_TYPE)?.[0]

t.test('proxy: records the machine on first contact, rate-limits rewrites, answers', async t => {
  const h = harness(testConfig())
  const writes: string[] = []
  const rs = h.store.machines.recordSighting.bind(h.store.machines)
  const rss = h.store.machines.recordSightings.bind(h.store.machines)
  h.store.machines.recordSighting = async (s, at) => { writes.push(at.toISOString()); return await rs(s, at) }
  h.store.machines.recordSightings = async (list) => { writes.push(...list.map(e => e.at.toISOString())); return await rss(list) }
  const offer = await h.ask({ arch: 7, mac: '52:54:00:aa:00:01' })
  t.equal(mt(offer), MessageType.OFFER)
  t.match(await h.store.machines.get('52:54:00:aa:00:01'), {
    mac: '52:54:00:aa:00:01', arch: 'efi-x64', uuid: '8a2f6d1e-3b4c-4d5e-9f60-7a8b9c0d1e2f',
    vendorClass: 'PXEClient:Arch:00007:UNDI:003016', firstSeen: '2026-03-01T10:00:00.000Z'
  })
  await h.ask({ arch: 7, mac: '52:54:00:aa:00:01' })
  t.equal(writes.length, 1, 'a retry 0 s later is not rewritten')
  h.clock.advance(10_000)
  await h.ask({ arch: 7, mac: '52:54:00:aa:00:01' })
  await until(() => writes.length >= 2)   // this write runs behind the reply (store proven healthy), once quiet
  t.equal(writes.length, 2, 'written again after 10 s')
  t.match(await h.store.machines.get('52:54:00:aa:00:01'), { lastSeen: '2026-03-01T10:00:10.000Z' })
  t.equal(h.sent.length, 3, 'every DISCOVER answered')
})

t.test('proxy: non-PXE clients are neither answered nor recorded', async t => {
  const h = harness(testConfig())
  t.equal(await h.ask({ vendorClass: 'MSFT 5.0', arch: null }), undefined)
  t.same(await h.store.machines.list(), [])
})

t.test('store failure: warn, send nothing (DESIGN.md rule 3)', async t => {
  const h = harness(testConfig(), createBrokenStore())
  t.equal(await h.ask({ arch: 0 }), undefined)
  t.equal(h.sent.length, 0)
})

t.test('the gate decides first: a refused client gets nothing and is not inventoried', async t => {
  const asked: string[] = []
  const h = harness(testConfig(), createMemoryStore(), { shouldAnswer: async (c) => { asked.push(c.mac); return 'unknown machine' } })
  t.equal(await h.ask({ arch: 0, mac: '52:54:00:aa:00:02' }), undefined)
  t.same(asked, ['52:54:00:aa:00:02'])
  t.equal(await h.store.machines.get('52:54:00:aa:00:02'), undefined, 'not inventoried')
  const thrower = harness(testConfig(), createMemoryStore(), { shouldAnswer: async () => { throw new Error('boom') } })
  t.equal(await thrower.ask({ arch: 0 }), undefined, 'a failing gate means silence')
})

t.test('dhcp.answer known with the real gate: an unknown machine stays unanswered on every retry', async t => {
  const cfg = testConfig({ dhcp: { answer: 'known' } })
  const store = createMemoryStore()
  const ctx = { config: { current: () => cfg, status: () => ({}) as any, onChange: () => () => {} }, store, log: silentLogger, clock: fixedClock('2026-03-01T10:00:00Z') }
  const h = harness(cfg, store, createDhcpGate(ctx))
  for (let i = 0; i < 3; i++) t.equal(await h.ask({ arch: 0, mac: '52:54:00:aa:00:09' }), undefined, `DISCOVER ${i + 1}: silent`)
  t.equal(h.sent.length, 0)
  // A machine an admin already knows (inventory record) is answered.
  await store.machines.recordSighting({ mac: '52:54:00:aa:00:0a' }, new Date('2026-03-01T09:00:00Z'))
  t.ok(await h.ask({ arch: 0, mac: '52:54:00:aa:00:0a' }), 'known machine answered')
})

t.test('garbage and other servers\' replies are dropped without a reply', async t => {
  const h = harness(testConfig())
  await h.r.handle(Buffer.from('not a dhcp packet'), { address: '10.0.0.9', port: 68 }, 'dhcp')
  const offer = clientPacket(); offer.op = 2
  await h.r.handle(encode(offer), { address: '10.0.0.9', port: 67 }, 'dhcp')
  t.equal(h.sent.length, 0)
})

t.test('hot reload: mode off silences, response delay applies', async t => {
  const h = harness(testConfig())
  h.setConfig(testConfig({ dhcp: { mode: 'off' } }))
  t.equal(await h.ask({ arch: 0 }), undefined, 'off after reload')
  h.setConfig(testConfig({ dhcp: { responseDelayMs: 150 } }))
  const started = Date.now()
  t.ok(await h.ask({ arch: 0 }))
  t.ok(Date.now() - started >= 140, 'the reply waited for responseDelayMs')
})

t.test('full mode: DORA, renew, INIT-REBOOT, NAK, INFORM, RELEASE, DECLINE', async t => {
  const h = harness(testConfig({ dhcp: { mode: 'full', full: FULL } }))
  const mac = '52:54:00:bb:00:01'
  const offer = await h.ask({ mac, vendorClass: null, arch: null })
  t.equal(mt(offer), MessageType.OFFER)
  const ip = offer?.yiaddr as string
  t.equal(ip, '10.99.0.100')
  t.equal(offer?.file, '', 'non-PXE: no boot file')
  t.equal(optIp(offer!.options, Opt.ROUTER), '10.99.0.1')
  t.equal(offer?.options.get(Opt.LEASE_TIME)?.readUInt32BE(0), 600)
  t.match(await h.store.leases.get(mac), { ip, state: 'offered' })
  t.equal(await h.ask({ mac: '52:54:00:bb:00:02', vendorClass: null, arch: null, type: MessageType.REQUEST, requested: ip, serverId: SERVER }) !== undefined, true)
  t.equal(mt(h.sent.length > 0 ? decode(h.sent[h.sent.length - 1].buf) : undefined), MessageType.NAK, 'another MAC asking for the offered address gets NAK')
  const ack = await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, requested: ip, serverId: SERVER })
  t.equal(mt(ack), MessageType.ACK); t.equal(ack?.yiaddr, ip)
  t.match(await h.store.leases.get(mac), { ip, state: 'bound', expiresAt: '2026-03-01T10:10:00.000Z' })
  h.clock.advance(300_000)
  const renew = await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, ciaddr: ip })
  t.equal(mt(renew), MessageType.ACK, 'RENEWING'); t.equal(h.sent[h.sent.length - 1].to.address, ip, 'unicast to ciaddr')
  t.match(await h.store.leases.get(mac), { expiresAt: '2026-03-01T10:15:00.000Z' })
  t.equal(mt(await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, requested: ip })), MessageType.ACK, 'INIT-REBOOT with the right address')
  t.equal(mt(await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, requested: '10.99.0.105' })), MessageType.NAK, 'INIT-REBOOT with the wrong address')
  t.equal(await h.ask({ mac: '52:54:00:bb:00:09', vendorClass: null, arch: null, type: MessageType.REQUEST, requested: '10.99.0.105' }), undefined, 'INIT-REBOOT from a stranger: silent')
  t.equal(await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, requested: ip, serverId: '10.99.0.2' }), undefined, 'chose another server: silent')
  const inform = await h.ask({ mac: '52:54:00:bb:00:03', vendorClass: null, arch: null, type: MessageType.INFORM, ciaddr: '10.99.0.50' })
  t.equal(mt(inform), MessageType.ACK); t.equal(inform?.yiaddr, '0.0.0.0'); t.notOk(inform?.options.has(Opt.LEASE_TIME), 'INFORM: no lease time')
  // RELEASE frees the address but the client gets it back next time.
  t.equal(await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.RELEASE, ciaddr: ip }), undefined)
  t.match(await h.store.leases.get(mac), { state: 'released' })
  t.equal((await h.ask({ mac, vendorClass: null, arch: null }))?.yiaddr, ip, 'same address after RELEASE')
  // DECLINE: the address is taken out of the pool for everyone for a while.
  await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, requested: ip, serverId: SERVER })
  t.equal(await h.ask({ mac, vendorClass: null, arch: null, type: MessageType.DECLINE, requested: ip, serverId: SERVER }), undefined)
  const next = await h.ask({ mac, vendorClass: null, arch: null })
  t.not(next?.yiaddr, ip, 'declined address not offered again')
  t.equal((await h.ask({ mac: '52:54:00:bb:00:04', vendorClass: null, arch: null }))?.yiaddr !== ip, true, 'nor to anyone else')
})

t.test('full mode: PXE clients get address and boot file in one OFFER', async t => {
  const h = harness(testConfig({ dhcp: { mode: 'full', full: FULL } }))
  const offer = await h.ask({ arch: 7, mac: '52:54:00:cc:00:01' })
  t.equal(offer?.yiaddr, '10.99.0.100'); t.equal(offer?.file, 'ipxe.efi'); t.equal(offer?.siaddr, SERVER)
})

t.test('full mode: 40 concurrent clients on a 20-address pool never share an address', async t => {
  const h = harness(testConfig({ dhcp: { mode: 'full', full: FULL } }))
  const macs = Array.from({ length: 40 }, (_, i) => `52:54:00:dd:00:${i.toString(16).padStart(2, '0')}`)
  const offers = await Promise.all(macs.map(mac => h.ask({ mac, vendorClass: null, arch: null })))
  const ips = offers.filter(o => o !== undefined).map(o => o!.yiaddr)
  t.equal(ips.length, 20, 'the pool has 20 addresses: 20 offers, 20 silences')
  t.equal(new Set(ips).size, 20, 'all distinct')
  const acks = await Promise.all(macs.map((mac, i) => offers[i] === undefined ? undefined
    : h.ask({ mac, vendorClass: null, arch: null, type: MessageType.REQUEST, requested: offers[i]!.yiaddr, serverId: SERVER })))
  t.equal(acks.filter(a => mt(a) === MessageType.ACK).length, 20)
  const leases = (await h.store.leases.list()).filter(l => l.state === 'bound')
  t.equal(new Set(leases.map(l => l.ip)).size, 20, 'stored leases distinct')
})

t.test('full mode: a failed lease write sends nothing and is undone', async t => {
  let broken = true
  const h = harness(testConfig({ dhcp: { mode: 'full', full: FULL } }), failingStore(createMemoryStore(), (c, m) => broken && c === 'leases' && m === 'put'))
  t.equal(await h.ask({ vendorClass: null, arch: null, mac: '52:54:00:ee:00:01' }), undefined)
  broken = false
  t.equal((await h.ask({ vendorClass: null, arch: null, mac: '52:54:00:ee:00:02' }))?.yiaddr, '10.99.0.101', 'next client')
  t.equal((await h.ask({ vendorClass: null, arch: null, mac: '52:54:00:ee:00:01' }))?.yiaddr, '10.99.0.102', 'the first one was not left holding an address')
})

t.test('full mode: leases survive a restart (level store)', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'nbd-leases-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const cfg = testConfig({ dhcp: { mode: 'full', full: FULL } })
  const mac = '52:54:00:ff:00:01'
  let store = await openLevelStore(dir)
  let h = harness(cfg, store)
  await h.ask({ vendorClass: null, arch: null, mac: '52:54:00:ff:00:00' })
  const ip = (await h.ask({ vendorClass: null, arch: null, mac }))!.yiaddr
  t.equal(mt(await h.ask({ vendorClass: null, arch: null, mac, type: MessageType.REQUEST, requested: ip, serverId: SERVER })), MessageType.ACK)
  await store.close()
  store = await openLevelStore(dir)
  t.teardown(() => store.close())
  h = harness(cfg, store)
  t.equal(mt(await h.ask({ vendorClass: null, arch: null, mac, type: MessageType.REQUEST, ciaddr: ip })), MessageType.ACK, 'renewal after restart')
  t.equal((await h.ask({ vendorClass: null, arch: null, mac: '52:54:00:ff:00:02' }))!.yiaddr !== ip, true, 'a new client does not get the bound address')
})

t.test('a store not yet proven (start-up): first contacts beyond the waiting bound are dropped, not queued', async t => {
  const store = createMemoryStore()
  const release: Array<() => void> = []
  const rs = store.machines.recordSighting.bind(store.machines)
  store.machines.recordSighting = async (s, at) => { await new Promise<void>(resolve => release.push(resolve)); return await rs(s, at) }
  const h = harness(testConfig(), store)
  const macs = Array.from({ length: MAX_WAITING_SIGHTINGS + 1 }, (_, i) => `52:54:01:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`)
  const pending = macs.slice(0, MAX_WAITING_SIGHTINGS).map(mac => h.ask({ mac, arch: 0 }))
  const retry = h.ask({ mac: macs[0], arch: 0 })  // a retry of a machine whose write is in flight shares it
  t.equal(await h.ask({ mac: macs[MAX_WAITING_SIGHTINGS], arch: 0 }), undefined, 'one over the bound: dropped at once')
  t.equal(release.length, MAX_WAITING_SIGHTINGS, 'no extra write for the retry')
  for (const r of release) r()
  t.equal((await Promise.all(pending)).filter(p => p !== undefined).length, MAX_WAITING_SIGHTINGS, 'the others answered')
  t.ok(await retry, 'the retry answered too')
  store.machines.recordSighting = rs
  t.ok(await h.ask({ mac: macs[MAX_WAITING_SIGHTINGS], arch: 0 }), 'answered on its next try')
})

t.test('full mode: a stalled lease store bounds the allocation queue instead of growing it', async t => {
  const store = createMemoryStore()
  let release: () => void = () => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const put = store.leases.put.bind(store.leases)
  store.leases.put = async (l) => { await gate; await put(l) }
  const h = harness(testConfig({ dhcp: { mode: 'full', full: { ...FULL, poolEnd: '10.99.7.255' } } }), store)
  const mac = (i: number) => `52:54:02:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
  const queued = Array.from({ length: MAX_QUEUED_FULL }, (_, i) => h.ask({ mac: mac(i), vendorClass: null, arch: null }))
  t.equal(await h.ask({ mac: mac(MAX_QUEUED_FULL), vendorClass: null, arch: null }), undefined, 'one over the bound: dropped at once')
  release()
  const offers = (await Promise.all(queued)).filter(o => o !== undefined)
  t.equal(offers.length, MAX_QUEUED_FULL, 'the queued ones are all answered once the store moves')
  t.equal(new Set(offers.map(o => o!.yiaddr)).size, MAX_QUEUED_FULL, 'with distinct addresses')
})

t.test('inventory writes go behind the reply once the store has proven healthy, and wait again after a failure', async t => {
  const store = createMemoryStore()
  let mode: 'ok' | 'hang' | 'fail' = 'ok'
  const hung: Array<() => void> = []
  const rs = store.machines.recordSighting.bind(store.machines)
  const rss = store.machines.recordSightings.bind(store.machines)
  const behave = async (): Promise<void> => {
    if (mode === 'hang') await new Promise<void>(resolve => hung.push(resolve))
    if (mode === 'fail') throw new Error('disk full')
  }
  store.machines.recordSighting = async (s, at) => { await behave(); return await rs(s, at) }
  store.machines.recordSightings = async (list) => { await behave(); return await rss(list) }
  const h = harness(testConfig(), store)
  t.ok(await h.ask({ mac: '52:54:00:ab:00:01', arch: 0 }), 'first write waited for, and succeeded')
  mode = 'hang'
  t.ok(await h.ask({ mac: '52:54:00:ab:00:02', arch: 0 }), 'healthy store: answered before the write starts')
  t.equal(hung.length, 0, 'the queue is drained outside the packet handler')
  await until(() => hung.length >= 1)
  t.equal(hung.length, 1, 'written once the requests stopped')
  t.equal(await store.machines.get('52:54:00:ab:00:02'), undefined, 'not written yet')
  hung[0]()
  await until(async () => await store.machines.get('52:54:00:ab:00:02') !== undefined)
  t.ok(await store.machines.get('52:54:00:ab:00:02'), 'written behind the reply')
  mode = 'fail'
  t.ok(await h.ask({ mac: '52:54:00:ab:00:03', arch: 0 }), 'the failure is not known yet when this one is answered')
  await until(() => !Inventory.isProven(store.machines))
  t.equal(await h.ask({ mac: '52:54:00:ab:00:04', arch: 0 }), undefined, 'after a failed write: wait again, and silence on failure')
  mode = 'ok'
  t.ok(await h.ask({ mac: '52:54:00:ab:00:04', arch: 0 }), 'the retry is answered once the store works')
  t.ok(await store.machines.get('52:54:00:ab:00:03') === undefined && await store.machines.get('52:54:00:ab:00:04') !== undefined)
})

t.test('a storm of new machines: answered at once, then recorded by one batch write per drain round', async t => {
  const store = createMemoryStore()
  const batches: number[] = []
  let single = 0
  let release = (): void => {}
  const firstBatchHeld = new Promise<void>(resolve => { release = resolve })
  const rs = store.machines.recordSighting.bind(store.machines)
  const rss = store.machines.recordSightings.bind(store.machines)
  store.machines.recordSighting = async (s, at) => { single++; return await rs(s, at) }
  store.machines.recordSightings = async (list) => {
    batches.push(list.length)
    if (batches.length === 1) await firstBatchHeld
    return await rss(list)
  }
  const h = harness(testConfig(), store)
  const mac = (i: number) => `52:54:03:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
  t.ok(await h.ask({ mac: mac(0), arch: 0 }), 'first contact: waited for its write (store not proven)')
  t.equal(single, 1)
  const n = SIGHTING_BATCH_MAX + 10
  const replies: Array<DhcpPacket | undefined> = []
  for (let i = 1; i <= n; i++) replies.push(await h.ask({ mac: mac(i), arch: 0 }))
  t.equal(replies.filter(r => r !== undefined).length, n, 'every machine answered')
  t.same(batches, [], 'no write yet: the queue is drained outside the packet handler, behind the storm')
  await until(() => batches.length >= 1)
  t.same(batches, [SIGHTING_BATCH_MAX], 'one batch of at most SIGHTING_BATCH_MAX sightings per round')
  t.equal(await store.machines.get(mac(n)), undefined, 'the last ones not recorded yet')
  t.ok(await h.ask({ mac: mac(n), arch: 0 }), 'its retry answered')
  release()
  await until(() => batches.length >= 2)
  t.same(batches, [SIGHTING_BATCH_MAX, 10], 'the rest in the next round; the retry added nothing (queued already)')
  t.ok(await store.machines.get(mac(n)), 'recorded')
  t.equal((await store.machines.list()).length, n + 1, 'each machine recorded')
  t.equal(single, 1, 'behind the replies, only batches')
})

t.test('full mode: leases that cannot be loaded mean silence, and a later packet retries the load', async t => {
  let broken = true
  const h = harness(testConfig({ dhcp: { mode: 'full', full: FULL } }), failingStore(createMemoryStore(), (c, m) => broken && c === 'leases' && m === 'list'))
  t.equal(await h.ask({ vendorClass: null, arch: null }), undefined)
  broken = false
  t.equal((await h.ask({ vendorClass: null, arch: null }))?.yiaddr, '10.99.0.100')
})
