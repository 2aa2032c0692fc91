// The real service in a network namespace, driven by real peers: scapy PXE clients (arch 0, 7, 11, 16, iPXE,
// relayed, UDP 4011), busybox udhcpc and perfdhcp in full mode, and leases across a restart.
import t, { type Test } from 'tap'
import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLab, pyClient, SERVER_IP, CLIENT_IP, type Lab } from './lab/netns.js'
import { decode } from '../../src/dhcp/packet.js'
import { MessageType, Opt, optString } from '../../src/dhcp/options.js'

const HTTP = `http://${SERVER_IP}:8080`
const FULL = { poolStart: '10.99.0.100', poolEnd: '10.99.0.150', subnetMask: '255.255.255.0', router: SERVER_IP, dns: [], leaseSeconds: 3600 }
const serverCfg = (mode: 'proxy' | 'full', extra: object = {}) => ({ server: { address: SERVER_IP, bind: '0.0.0.0' }, dhcp: { mode, full: mode === 'full' ? FULL : undefined }, ...extra })

let lab: Lab
t.before(() => { lab = createLab() })
t.teardown(() => lab?.cleanup())

/** A temp dir (removed after the test) with a udhcpc hook script that prints "BOUND <fields>" once bound. */
async function udhcpcHook (t: Test, prefix: string, fields: string): Promise<{ dir: string, script: string }> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const script = join(dir, 'udhcpc.sh')
  await writeFile(script, `#!/bin/sh\n[ "$1" = bound ] && echo "BOUND ${fields}"\nexit 0\n`)
  await chmod(script, 0o755)
  return { dir, script }
}

// Both readers of the DHCP ports: recvmmsg (native/udp-batch, the default) and Node's dgram (dhcp.batchReceive false).
for (const receive of ['recvmmsg', 'dgram'] as const) {
t.test(`proxy mode, read by ${receive}: PXE DISCOVERs get the right OFFER; 4011 REQUEST gets the ACK`, async t => {
  const svc = await lab.startService({ server: { address: SERVER_IP, bind: '0.0.0.0' }, dhcp: { mode: 'proxy', batchReceive: receive === 'recvmmsg' }, logLevel: 'info' })
  let stopped: Promise<string> | undefined
  const stop = (): Promise<string> => (stopped ??= svc.stop())
  t.teardown(stop)
  const cases = [
    { arch: 0, file: 'undionly.kpxe', vc: 'PXEClient' },
    { arch: 7, file: 'ipxe.efi', vc: 'PXEClient' },
    { arch: 11, file: 'ipxe-arm64.efi', vc: 'PXEClient' },
    { arch: 16, file: `${HTTP}/loaders/ipxe.efi`, vc: 'HTTPClient' },
    { arch: 0, ipxe: true, file: `${HTTP}/boot.ipxe`, vc: 'PXEClient' }
  ]
  const got = pyClient(lab, {
    server: '255.255.255.255',
    timeout: 2,
    packets: cases.map((c, i) => ({ type: 'discover', arch: c.arch, ipxe: c.ipxe, xid: 100 + i, mac: `52:54:00:00:01:0${i}` }))
  })
  for (const [i, c] of cases.entries()) {
    const replies = got.filter(g => decode(g.buf).xid === 100 + i)
    t.equal(replies.length, 1, `arch ${c.arch}${c.ipxe === true ? ' iPXE' : ''}: one OFFER`)
    const r = decode(replies[0].buf)
    t.equal(r.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.OFFER)
    t.equal(r.file, c.file, `arch ${c.arch}: ${c.file}`)
    t.equal(optString(r.options, Opt.VENDOR_CLASS), c.vc)
    t.equal(r.yiaddr, '0.0.0.0')
    t.equal(replies[0].from, SERVER_IP); t.equal(replies[0].port, 67, 'from port 67 (broadcast to 68)')
  }
  // UDP 4011: the client already has an address, unicasts a REQUEST, gets an ACK back to its address:port.
  const ack = pyClient(lab, { server: SERVER_IP, timeout: 2, packets: [{ type: 'request', arch: 7, ciaddr: CLIENT_IP, port: 4011, xid: 7 }] })
  t.equal(ack.length, 1, 'one ACK')
  const a = decode(ack[0].buf)
  t.equal(a.options.get(Opt.MESSAGE_TYPE)?.[0], MessageType.ACK)
  t.equal(a.file, 'ipxe.efi'); t.equal(ack[0].port, 4011, 'sent from 4011')
  // Relayed: unicast to giaddr:67 (the client ns plays the relay).
  const rel = pyClient(lab, { server: SERVER_IP, bind_port: 67, timeout: 2, packets: [{ type: 'discover', arch: 7, giaddr: CLIENT_IP, xid: 9 }] })
  t.equal(rel.length, 1, 'relay got the OFFER on port 67')
  t.equal(decode(rel[0].buf).giaddr, CLIENT_IP)
  // A non-PXE DHCP client gets nothing in proxy mode (once: what reads the port does not decide this).
  if (receive === 'recvmmsg') {
    const quiet = lab.run(lab.clientNs, ['busybox', 'udhcpc', '-i', lab.clientIf, '-n', '-q', '-f', '-t', '2', '-T', '1', '-s', '/bin/true'], 20_000, true)
    t.notMatch(quiet, /obtained/, 'udhcpc: no lease from a proxy')
  }
  t.match(await stop(), `"receive":"${receive}"`, `the service says it read with ${receive}`)
})
}

t.test('the running server ignores thousands of garbage datagrams, then still answers', async t => {
  const svc = await lab.startService(serverCfg('proxy'))
  t.teardown(() => svc.stop())
  const got = pyClient(lab, { server: SERVER_IP, garbage: 4000, garbage_wait: 1.5, timeout: 2, packets: [{ type: 'discover', arch: 7, to: '255.255.255.255', xid: 42 }] })
  t.equal(got.filter(g => g.phase === 'garbage').length, 0, 'zero replies to garbage')
  const ok = got.filter(g => g.phase === 'reply')
  t.equal(ok.length, 1, 'the valid DISCOVER afterwards gets its OFFER')
  t.equal(decode(ok[0].buf).xid, 42)
  t.equal(svc.proc.exitCode, null, 'still running')
})

t.test('full mode: udhcpc DORA, leases survive a restart, perfdhcp 20 concurrent clients never share', async t => {
  const { dir, script } = await udhcpcHook(t, 'nbd-dhcp-state-', '$ip $router $subnet')
  const udhcpc = () => lab.run(lab.clientNs, ['busybox', 'udhcpc', '-i', lab.clientIf, '-n', '-q', '-f', '-t', '4', '-T', '1', '-s', script], 30_000)
  let svc = await lab.startService(serverCfg('full', { stateDir: join(dir, 'db') }))
  const first = /BOUND (\S+) (\S+) (\S+)/.exec(udhcpc())
  t.ok(first, 'udhcpc got a lease')
  t.equal(first?.[1], '10.99.0.100'); t.equal(first?.[2], SERVER_IP, 'router'); t.equal(first?.[3], '255.255.255.0')
  await svc.stop()
  svc = await lab.startService(serverCfg('full', { stateDir: join(dir, 'db') }))
  // A different machine after the restart must not get the address the first one holds.
  lab.run(lab.clientNs, ['perfdhcp', '-4', '-l', CLIENT_IP, '-R', '1', '-n', '1', '-r', '1', SERVER_IP], 20_000, true)
  const again = /BOUND (\S+)/.exec(udhcpc())
  t.equal(again?.[1], first?.[1], 'the first machine keeps its address after the restart')
  let leases = JSON.parse(/LEASES (.*)/.exec(await svc.stop())?.[1] ?? '[]') as Array<{ mac: string, ip: string, state: string }>
  const perf = leases.find(l => l.mac === '00:0c:01:02:03:04')
  t.ok(perf, 'perfdhcp client leased')
  t.not(perf?.ip, first?.[1], 'and got a different address')

  svc = await lab.startService(serverCfg('full', { stateDir: join(dir, 'db2') }))
  const out = lab.run(lab.clientNs, ['perfdhcp', '-4', '-l', CLIENT_IP, '-R', '20', '-n', '20', '-r', '20', '-u', '-W', '2000000', SERVER_IP], 30_000, true)
  t.match(out, /non unique addresses: 0/, 'perfdhcp saw no duplicate address')
  leases = JSON.parse(/LEASES (.*)/.exec(await svc.stop())?.[1] ?? '[]')
  const bound = leases.filter(l => l.state === 'bound')
  t.ok(bound.length >= 18, `most of the 20 clients completed DORA (${bound.length})`)
  t.equal(new Set(bound.map(l => l.ip)).size, bound.length, 'no address given to two machines')
  t.equal(new Set(leases.map(l => l.ip)).size, leases.length, 'not even offered twice')
})

t.test('full mode reservation: udhcpc on the reserved MAC gets the reserved address and host name', async t => {
  const { dir, script } = await udhcpcHook(t, 'nbd-dhcp-resv-', '$ip $hostname')
  const link = lab.run(lab.clientNs, ['ip', '-o', 'link', 'show', lab.clientIf])
  const mac = /link\/ether ([0-9a-f:]{17})/.exec(link)?.[1]
  t.ok(mac, `client MAC ${mac}`)
  const full = { ...FULL, reservations: [{ mac, ip: '10.99.0.50', hostname: 'resv-test' }] }
  const svc = await lab.startService({ server: { address: SERVER_IP, bind: '0.0.0.0' }, dhcp: { mode: 'full', full } })
  t.teardown(() => svc.stop())
  const out = lab.run(lab.clientNs, ['busybox', 'udhcpc', '-i', lab.clientIf, '-n', '-q', '-f', '-t', '4', '-T', '1', '-s', script], 30_000)
  t.match(out, /BOUND 10\.99\.0\.50 resv-test/, 'the reserved address (outside the pool range) with option 12')
})
