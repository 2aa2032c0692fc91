// The warm-up's promise, checked with V8's own trace: once the service is READY, real traffic (broadcast DISCOVERs,
// UDP 4011 REQUESTs, other machines' plain DHCP, malformed datagrams, then a storm of relayed PXE DISCOVERs from
// perfdhcp) deoptimizes none of the code that serves DHCP. A deopt there means a recompile on a V8 worker thread
// while the storm runs (bench/dhcp/README.md, seventh and fourteenth passes): a warm-up that no longer matches real
// traffic fails here, not only in the benchmark.
// Root and perfdhcp (kea-admin): it runs the service in network namespaces of its own (lab/netns.ts).
import t from 'tap'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { createLab, pyClient, SERVER_IP } from './lab/netns.js'

const HIGH_SERVER = '192.168.77.1'
const HIGH_CLIENT = '192.168.77.2'

const root = process.getuid?.() === 0
const perfdhcp = spawnSync('perfdhcp', ['-v'], { stdio: 'ignore' }).error === undefined
const skip = !root ? 'needs root (network namespaces)' : !perfdhcp ? 'needs perfdhcp (kea-admin), the load generator' : false

/** One bailout of V8's --trace-deopt-verbose: its first line and the source positions it names. */
interface Bailout { head: string, at: string[] }

function bailouts (trace: string): Bailout[] {
  const out: Bailout[] = []
  for (const line of trace.split('\n')) {
    if (line.startsWith('[bailout')) out.push({ head: line.slice(0, 200), at: [] })
    else if (line.includes(';;; deoptimize at') && out.length > 0) out[out.length - 1].at.push(...[...line.matchAll(/<file:\/\/([^:>]+)/g)].map(m => m[1]))
  }
  return out
}

/** Files whose code runs on the DHCP thread for each request (the main thread's bridge and starter excluded). */
const servesDhcp = (file: string): boolean =>
  (/\/src\/dhcp\//.test(file) && !/\/src\/dhcp\/thread\/(store-bridge|threaded-service)\.ts$/.test(file)) || /\/src\/net\//.test(file)

// Both readers of the DHCP ports: recvmmsg (native/udp-batch, the default) and Node's dgram (dhcp.batchReceive false).
for (const receive of ['recvmmsg', 'dgram'] as const) {
t.test(`after the warm-up, a storm of real PXE requests deoptimizes none of the code serving DHCP (${receive})`, { skip }, async t => {
  const lab = createLab()
  t.teardown(() => { lab.cleanup() })
  const state = await mkdtemp(join(tmpdir(), 'nbd-deopt-'))
  t.teardown(() => rm(state, { recursive: true, force: true }))
  process.env.NBD_NODE_FLAGS = '--trace-deopt-verbose'
  const svc = await lab.startService({ server: { address: SERVER_IP, bind: '0.0.0.0' }, dhcp: { mode: 'proxy', batchReceive: receive === 'recvmmsg' }, stateDir: state })
  delete process.env.NBD_NODE_FLAGS
  let out = ''
  try {
    // A second subnet whose addresses are above 127.255.255.255 (no small integers as uint32, unlike the warm-up's
    // 127.0.0.1 and the lab's 10.99.0.x): the relay and the 4011 client are there, as on most sites.
    lab.run(lab.serverNs, ['ip', 'addr', 'add', `${HIGH_SERVER}/24`, 'dev', lab.serverIf])
    lab.run(lab.clientNs, ['ip', 'addr', 'add', `${HIGH_CLIENT}/24`, 'dev', lab.clientIf])
    // Broadcast DISCOVERs of every architecture, with and without iPXE (replies to 255.255.255.255), a 4011
    // REQUEST (reply to its source address), then the relayed storm: 1,000 machines never seen, so the inventory
    // drains by timer rounds as in a boot storm.
    const archs = [0, 6, 7, 11, 16, 19]
    const direct = pyClient(lab, {
      server: '255.255.255.255', timeout: 1,
      packets: [...archs.map((arch, i) => ({ type: 'discover', arch, xid: 200 + i, mac: `52:54:00:00:02:0${i}` })),
        { type: 'discover', arch: 0, ipxe: true, xid: 210, mac: '52:54:00:00:02:10' }]
    })
    const boot = pyClient(lab, { server: HIGH_SERVER, timeout: 1, packets: [{ type: 'request', arch: 7, ciaddr: HIGH_CLIENT, port: 4011, xid: 9 }] })
    // What else reaches a proxy's port 67 on a real network: other machines' plain DHCP (no PXE vendor class,
    // ignored) and the odd malformed datagram (dropped).
    lab.run(lab.clientNs, ['perfdhcp', '-4', '-l', HIGH_CLIENT, '-r', '500', '-p', '1', '-R', '200', HIGH_SERVER], 30_000, true)
    const garbage = pyClient(lab, { server: HIGH_SERVER, garbage: 200, garbage_wait: 0.3, timeout: 0.1, packets: [] })
    const storm = lab.run(lab.clientNs, ['perfdhcp', '-4', '-i', '-l', HIGH_CLIENT, '-r', '3000', '-p', '3', '-R', '1000', '-W', '500000',
      '-o', '60,' + Buffer.from('PXEClient:Arch:00007:UNDI:003000').toString('hex'), '-o', '93,0007', '-o', '94,010300', HIGH_SERVER], 60_000, true)
    t.equal(direct.length, archs.length + 1, 'the broadcast DISCOVERs were answered')
    t.equal(boot.length, 1, 'the 4011 REQUEST was answered')
    t.equal(garbage.length, 0, 'no reply to garbage')
    const received = Number(/received packets: (\d+)/.exec(storm)?.[1] ?? '0')
    t.ok(received > 5000, `perfdhcp's storm was answered (${received} OFFERs)`)
  } finally {
    out = await svc.stop()
  }
  const ready = out.indexOf('READY')
  t.ok(ready > 0, 'the service reached READY')
  const before = bailouts(out.slice(0, ready))
  t.ok(before.length > 0, 'the trace is on: V8 reported deopts while the service started')
  // NBD_DEOPT_DUMP=<prefix>: the whole trace goes to <prefix><reader>, to read a deopt's source position (a column of
  // the file as tsx compiled it, one line: esbuild's transform with minifyWhitespace and keepNames gives the same).
  if (process.env.NBD_DEOPT_DUMP !== undefined) await writeFile(process.env.NBD_DEOPT_DUMP + receive, out)
  const after = bailouts(out.slice(ready)).filter(b => b.at.some(servesDhcp))
  t.same(after.map(b => `${b.head} at ${b.at.map(f => f.replace(/.*\/src\//, 'src/')).join(' < ')}`), [],
    'no deopt in src/dhcp or src/net after READY')
})
}
