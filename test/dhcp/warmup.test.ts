// The start-up warm-up runs the real socket handler, Responder and send path on datagrams that came out of real
// (loopback) sockets; every reply is redirected to the loopback client, never to the address the request names,
// and the synthetic machines never reach the real inventory.
import t from 'tap'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { DhcpSockets } from '../../src/dhcp/server.js'
import { Responder, type Reply } from '../../src/dhcp/responder.js'
import { createService } from '../../src/dhcp/service.js'
import { WARM_UP_MACHINES, warmUpMachineStore, warmUpPacket } from '../../src/dhcp/warmup.js'
import { Inventory } from '../../src/dhcp/inventory.js'
import { decode, encode } from '../../src/dhcp/packet.js'
import { classify } from '../../src/dhcp/classify.js'
import { MessageType, Opt } from '../../src/dhcp/options.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { staticConfig } from '../../src/config/holder.js'
import { silentLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import type { Store } from '../../src/store/types.js'
import { clientPacket, testConfig } from './helpers.js'

t.test('the synthetic requests look like the firmware the appliance serves', async t => {
  const seen = new Set<string>()
  const uuids = new Set<string>()
  for (let i = 0; i < 504; i++) {
    const d = warmUpPacket(i)
    const c = classify(decode(d.buf), d.via, 'proxy')
    if (c.kind !== 'request') { t.fail(`request ${i} would be ignored: ${c.reason}`); continue }
    seen.add(`${c.pxe?.arch ?? '-'}${c.pxe?.isIpxe === true ? '+ipxe' : ''}${c.pxe?.httpBoot === true ? '+http' : ''} ${c.via} ${c.relayed ? 'relayed' : 'local'}`)
    const o97 = decode(d.buf).options.get(Opt.CLIENT_UUID)
    uuids.add(o97 === undefined ? 'none' : o97.subarray(1).every(b => b === 0) ? 'zero' : 'guid')
  }
  t.same([...seen].sort(), [
    'bios dhcp local', 'bios dhcp relayed', 'bios proxy local',
    'bios+ipxe dhcp local', 'bios+ipxe dhcp relayed', 'bios+ipxe proxy local',
    'efi-arm64 dhcp local', 'efi-arm64 dhcp relayed', 'efi-arm64 proxy local',
    'efi-arm64-http+http dhcp local', 'efi-arm64-http+http dhcp relayed',
    'efi-ia32 dhcp local', 'efi-ia32 dhcp relayed', 'efi-ia32 proxy local',
    'efi-x64 dhcp local', 'efi-x64 dhcp relayed', 'efi-x64 proxy local',
    'efi-x64+ipxe dhcp local', 'efi-x64+ipxe dhcp relayed', 'efi-x64+ipxe proxy local',
    'efi-x64-http+http dhcp local', 'efi-x64-http+http dhcp relayed'
  ], 'every arch, iPXE and UEFI HTTP Boot, on 67 (local and relayed) and as 4011 boot-item requests')
  t.same([...uuids].sort(), ['guid', 'none', 'zero'], 'option 97 as firmware sends it: a GUID, none, or all zeros')
  const macOf = (i: number): string => decode(warmUpPacket(i).buf).chaddr.subarray(0, 6).toString('hex')
  t.equal(macOf(WARM_UP_MACHINES + 5), macOf(5), 'machines ask again, as firmware retries (the inventory\'s "seen recently" path)')
  t.not(macOf(6), macOf(5), 'and the others are distinct machines')
  t.ok([0, 1, WARM_UP_MACHINES - 1].every(i => macOf(i).startsWith('026e62')), 'all with the warm-up\'s locally administered prefix')
})

for (const batchReceive of [false, true]) {
t.test(`every request is answered, and every answer goes to the loopback client, not where the packet says (${batchReceive ? 'recvmmsg' : 'dgram'})`, async t => {
  // Replies to relayed requests would go to giaddr:ports.dhcp. Here giaddr is 127.0.0.1 and ports.dhcp a trap
  // socket: if the redirect failed, the trap would receive them.
  const trap = dgram.createSocket('udp4')
  trap.bind(0, '127.0.0.1')
  await once(trap, 'listening')
  let trapped = 0
  trap.on('message', () => { trapped++ })
  t.teardown(() => trap.close())
  const cfg = testConfig({ ports: { dhcp: trap.address().port } })
  const ctx = { config: staticConfig(cfg), store: {} as Store, log: silentLogger, clock: systemClock }
  const sockets = new DhcpSockets(silentLogger, () => 0, batchReceive)
  t.equal(sockets.receive, batchReceive ? 'recvmmsg' : 'dgram')
  const replies: Reply[] = []
  const stub = warmUpMachineStore()
  await Inventory.probe(stub)
  const r = new Responder(ctx, { shouldAnswer: async () => true }, async (x) => { replies.push(x); await sockets.send(x.via, x.buf, x.to) }, () => stub)
  const froms = new Set<string>()
  const vias = new Set<string>()
  const relayed = (i: number): Buffer => encode(clientPacket({ mac: `02:6e:62:00:00:${i.toString(16).padStart(2, '0')}`, arch: 7, giaddr: '127.0.0.1', xid: i }))
  await sockets.warmUp(100, (i) => ({ buf: relayed(i), via: 'dhcp' }), (msg, from, via) => {
    froms.add(from.address); vias.add(via)
    void r.handle(msg, from, via)
  })
  t.equal(replies.length, 100, 'the pipeline answered every request')
  t.same(new Set(replies.map(x => `${x.to.address}:${x.to.port}`)), new Set([`127.0.0.1:${trap.address().port}`]), 'each reply was addressed to the relay')
  await new Promise(resolve => setTimeout(resolve, 50))
  t.equal(trapped, 0, 'and none arrived there')
  t.same([...froms], ['127.0.0.1'], 'requests arrived from the loopback client socket')
  t.equal(decode(replies[0].buf).options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.OFFER)
  t.equal(sockets.port('dhcp'), undefined, 'the loopback sockets are closed afterwards')
})
}

t.test('the warm-up ends paced, one request at a time, so the busy-poll turn that spins runs before any real DISCOVER', async t => {
  // With 32 requests in flight the loop never had a turn to spare: the spinning turn (and its calibration, ~10 ms)
  // first ran on a real DISCOVER, in 2 of 3 storms measured by bench/dhcp.
  const cfg = testConfig()
  const ctx = { config: staticConfig(cfg), store: {} as Store, log: silentLogger, clock: systemClock }
  const sockets = new DhcpSockets(silentLogger, () => 300)
  const stub = warmUpMachineStore()
  await Inventory.probe(stub)
  const r = new Responder(ctx, { shouldAnswer: async () => true }, async (x) => { await sockets.send(x.via, x.buf, x.to) }, () => stub)
  let handled = 0
  await sockets.warmUp(1000, warmUpPacket, (msg, from, via) => { handled++; void r.handle(msg, from, via) })
  const sent = Array.from({ length: 1000 }, (_, i) => warmUpPacket(i)).reduce((n, d) => n + (d.noise === undefined ? 1 : 2), 0)
  t.ok(sent > 1000, 'some requests come with noise (plain DHCP, malformed datagrams)')
  t.equal(handled, sent, 'every request, and every datagram of noise, reached the handler')
  t.equal(sockets.busyPoll.holds, sent, 'each datagram held the loop')
  // saturated, a handful of turns at most (2 measured); paced, about two per request (~1,000 measured)
  t.ok(sockets.busyPoll.turns >= 50, `and the loop turned while holding (${sockets.busyPoll.turns} turns)`)
})

t.test('the service warms up before it binds, and none of the synthetic machines reach the inventory', async t => {
  const store = createMemoryStore()
  const cfg = testConfig({ server: { bind: '127.0.0.1' }, ports: { dhcp: 0, proxyDhcp: 0 } })
  const svc = createService({ config: staticConfig(cfg), store, log: silentLogger, clock: systemClock })!
  await svc.start()
  t.teardown(async () => { await svc.stop() })
  t.same(await store.machines.list(), [], 'no machine recorded by the warm-up')
  // A real 4011 request after start is recorded in the real store: the inventory points at it again.
  const client = dgram.createSocket('udp4')
  client.bind(0, '127.0.0.1')
  await once(client, 'listening')
  t.teardown(() => client.close())
  const reply = once(client, 'message')
  client.send(encode(clientPacket({ mac: '52:54:00:12:34:56', arch: 7, type: MessageType.REQUEST, ciaddr: '127.0.0.1', xid: 7 })), svc.ports().proxyDhcp!, '127.0.0.1')
  const [msg] = await reply as [Buffer]
  t.equal(decode(msg).options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK, 'the 4011 REQUEST got its ACK')
  for (let i = 0; i < 100 && (await store.machines.get('52:54:00:12:34:56')) === undefined; i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.match(await store.machines.list(), [{ mac: '52:54:00:12:34:56', arch: 'efi-x64' }], 'the real machine, and only it, is in the inventory')
})
