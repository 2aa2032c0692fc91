// Not a test: rough store throughput on this machine, for the report (npx tsx test/store/bench.ts).
// Speed never goes into assertions; run it on an idle machine for meaningful figures.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openLevelStore } from '../../src/store/level.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { Store } from '../../src/store/types.js'
import { deployment } from './contract.js'

async function time (label: string, n: number, fn: (i: number) => Promise<unknown>, concurrency = 1): Promise<void> {
  const start = process.hrtime.bigint()
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => { while (next < n) await fn(next++) }))
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  console.log(`${label.padEnd(58)} ${String(Math.round(n / ms * 1000)).padStart(8)} ops/s  (${n} in ${ms.toFixed(0)} ms)`)
}

async function bench (name: string, s: Store, n: number): Promise<void> {
  console.log(`-- ${name}`)
  await time('machines.recordSighting (no fsync), 1 at a time', n, async i => await s.machines.recordSighting({ mac: `02:00:00:00:${(i >> 8 & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`, arch: 'bios' }, new Date()))
  await time('machines.get', n, async i => await s.machines.get(`02:00:00:00:00:${(i & 255).toString(16).padStart(2, '0')}`))
  await time('deployments.create (fsync), 1 at a time', Math.min(n, 500), async i => await s.deployments.create(deployment(`d${i}`)))
  await time('deployments.appendEvent step-end (fsync), 1 at a time', Math.min(n, 500), async () => await s.deployments.appendEvent({ deploymentId: 'd1', at: 'x', type: 'step-end' }))
  await time('deployments.appendEvent log (no fsync), 1 at a time', Math.min(n, 500), async () => await s.deployments.appendEvent({ deploymentId: 'd3', at: 'x', type: 'log' }))
  await time('deployments.appendEvent step-end, 16 concurrent, 1 deployment', Math.min(n, 500), async () => await s.deployments.appendEvent({ deploymentId: 'd2', at: 'x', type: 'step-end' }), 16)
  await time('deployments.listByMachine (500 deployments on the MAC)', 200, async () => await s.deployments.listByMachine('aa:bb:cc:00:00:01'))
  await s.close()
}

const dir = await mkdtemp(join(tmpdir(), 'nbs-bench-'))
try {
  await bench('memory', createMemoryStore(), 5000)
  await bench(`level (${dir})`, await openLevelStore(dir), 5000)
} finally {
  await rm(dir, { recursive: true, force: true })
}
