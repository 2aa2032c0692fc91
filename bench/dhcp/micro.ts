// In-process cost of one proxyDHCP DISCOVER through Responder (decode → classify → inventory → gate → reply → encode),
// no sockets: time per packet, and bytes allocated per packet (V8's sampling heap profiler, collected objects
// included: what the young generation has to absorb, so what sets how often it is scavenged during a storm).
//   npx tsx bench/dhcp/micro.ts [--sites]
import { readFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import { Responder } from '../../src/dhcp/responder.js'
import { createMemoryStore } from '../../src/store/memory.js'
import { createDhcpGate } from '../../src/policy/gate.js'
import { staticConfig } from '../../src/config/holder.js'
import { silentLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import { testConfig } from '../../test/dhcp/helpers.js'
const cfg = testConfig()
const store = createMemoryStore()
const ctx = { config: staticConfig(cfg), store, log: silentLogger, clock: systemClock }
let n = 0
const r = new Responder(ctx, createDhcpGate(ctx), async () => { n++ })
const buf = readFileSync(new URL('../../test/fixtures/dhcp/perfdhcp-1-discover.bin', import.meta.url))
const N = 100000
for (const distinct of [false, true]) {
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    if (distinct) buf.writeUInt32BE(i, 30)
    await r.handle(buf, { address: '10.0.0.2', port: 67 }, 'dhcp')
  }
  const us = Number(process.hrtime.bigint() - t0) / 1000 / N
  console.log(distinct ? 'distinct macs' : 'same mac', us.toFixed(1), 'us/packet', n)
}

// 1,000 machines seen over and over, as in bench.ts --clients 1000 after the first second
const session = new Session()
session.connect()
await session.post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never)
const M = 20000
for (let i = 0; i < M; i++) {
  buf.writeUInt32BE(i % 1000, 30)
  await r.handle(buf, { address: '10.0.0.2', port: 67 }, 'dhcp')
}
const { profile } = await session.post('HeapProfiler.stopSampling')
let bytes = 0
const walk = (node: typeof profile.head): void => { bytes += node.selfSize; for (const c of node.children) walk(c) }
walk(profile.head)
console.log('allocated', Math.round(bytes / M), 'bytes/packet (sampled, 1,000 machines)')
// --sites: where it is allocated (bytes per packet by the function that allocated them, the largest first)
if (process.argv.includes('--sites')) {
  const sites = new Map<string, number>()
  const bySite = (node: typeof profile.head): void => {
    const f = node.callFrame
    const k = `${f.functionName !== '' ? f.functionName : '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}`
    sites.set(k, (sites.get(k) ?? 0) + node.selfSize)
    for (const c of node.children) bySite(c)
  }
  bySite(profile.head)
  for (const [k, b] of [...sites].sort((x, y) => y[1] - x[1]).slice(0, 20)) console.log(String(Math.round(b / M)).padStart(6), k)
}
session.disconnect()
