// Not a test: main-thread cost of writing sightings to the level store one by one vs in batches, for the DHCP
// inventory's drain (npx tsx test/store/sightings-bench.ts [n]). Main-thread busy time is the event loop's active
// time (performance.eventLoopUtilization), which is what delays DHCP replies; LevelDB's own work runs on the libuv
// thread pool. Speed never goes into assertions; run it on a quiet machine.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { openLevelStore } from '../../src/store/level.js'
import type { MachineSighting, MachineStore } from '../../src/store/types.js'

const n = Number(process.argv[2] ?? 1000)
const mac = (i: number): string => `02:00:00:${(i >> 16 & 255).toString(16).padStart(2, '0')}:${(i >> 8 & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`
const sighting = (i: number): MachineSighting => ({ mac: mac(i), arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007:UNDI:003000', uuid: '8a2f6d1e-3b4c-4d5e-9f60-7a8b9c0d1e2f' })

async function measure (label: string, fn: () => Promise<void>): Promise<void> {
  const elu0 = performance.eventLoopUtilization()
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await fn()
  const wall = performance.now() - t0
  const elu = performance.eventLoopUtilization(elu0)
  const cpu = process.cpuUsage(cpu0)
  console.log(`${label.padEnd(52)} wall ${wall.toFixed(1).padStart(7)} ms  main thread busy ${elu.active.toFixed(1).padStart(7)} ms  process cpu ${((cpu.user + cpu.system) / 1000).toFixed(1).padStart(7)} ms`)
}

async function run (m: MachineStore, base: number): Promise<void> {
  const at = new Date()
  await measure(`recordSighting x${n}, all started at once`, async () => {
    await Promise.all(Array.from({ length: n }, async (_, i) => { await m.recordSighting(sighting(base + i), at) }))
  })
  await measure(`recordSighting x${n}, one after another`, async () => {
    for (let i = 0; i < n; i++) await m.recordSighting(sighting(base + n + i), at)
  })
  await measure(`recordSightings(${n}) once`, async () => {
    await m.recordSightings(Array.from({ length: n }, (_, i) => ({ sighting: sighting(base + 2 * n + i), at })))
  })
  await measure(`recordSightings(256) x${Math.ceil(n / 256)}, one after another`, async () => {
    for (let i = 0; i < n; i += 256) {
      await m.recordSightings(Array.from({ length: Math.min(256, n - i) }, (_, j) => ({ sighting: sighting(base + 3 * n + i + j), at })))
    }
  })
  await measure(`recordSightings(${n}) of machines already stored`, async () => {
    await m.recordSightings(Array.from({ length: n }, (_, i) => ({ sighting: sighting(base + i), at })))
  })
}

/** The longest stretch the main thread is busy without a turn of the loop during one batch (what a reply waits). */
async function longestBlock (m: MachineStore, size: number, base: number): Promise<void> {
  const blocks: number[] = []
  for (let round = 0; round < 9; round++) {
    let last = performance.now()
    let longest = 0
    let live = true
    const tick = (): void => { const now = performance.now(); longest = Math.max(longest, now - last); last = now; if (live) setImmediate(tick) }
    setImmediate(tick)
    await m.recordSightings(Array.from({ length: size }, (_, j) => ({ sighting: sighting(base + round * size + j), at: new Date() })))
    live = false
    blocks.push(longest)
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  blocks.sort((a, b) => a - b)
  console.log(`recordSightings(${size}): longest main-thread block median ${blocks[4].toFixed(2)} ms (${blocks[0].toFixed(2)}–${blocks[8].toFixed(2)}, 9 batches)`)
}

const dir = await mkdtemp(join(tmpdir(), 'nbs-sightings-'))
try {
  const s = await openLevelStore(dir)
  console.log('-- cold (first calls after open)')
  await run(s.machines, 0)
  console.log('-- warm')
  await run(s.machines, 8 * n)
  for (const [i, size] of [64, 128, 256].entries()) await longestBlock(s.machines, size, 16 * n + i * 4096)
  await s.close()
} finally {
  await rm(dir, { recursive: true, force: true })
}
