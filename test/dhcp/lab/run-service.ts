// Runs the real DHCP service in whatever network namespace it is started in: on its own thread as the appliance
// runs it (src/dhcp/thread/threaded-service.ts), or with "inThread": true on the main thread (src/dhcp/service.ts):
//   ip netns exec nbd-… node --import tsx test/dhcp/lab/run-service.ts '{"dhcp":{"mode":"proxy"},"stateDir":"…"}'
// Prints "READY <dhcpPort> <proxyPort> <tid of the thread serving DHCP>" once bound; on SIGTERM prints "LEASES
// <json>", "CPU <ms used>" and exits 0.
import { createService } from '../../../src/dhcp/service.js'
import { createThreadedService } from '../../../src/dhcp/thread/threaded-service.js'
import { createMemoryStore } from '../../../src/store/memory.js'
import { openLevelStore } from '../../../src/store/level.js'
import { staticConfig } from '../../../src/config/holder.js'
import { createLogger } from '../../../src/log.js'
import { systemClock } from '../../../src/clock.js'
import { testConfig } from '../helpers.js'
import { monitorEventLoopDelay, PerformanceObserver, performance } from 'node:perf_hooks'

const spec = JSON.parse(process.argv[2] ?? '{}')
const cfg = testConfig({ dhcp: spec.dhcp, ports: spec.ports, server: spec.server })
const store = spec.stateDir !== undefined ? await openLevelStore(spec.stateDir) : createMemoryStore()
const log = createLogger({ level: spec.logLevel ?? 'warn', destination: process.stderr })
const ctx = { config: staticConfig(cfg), store, log, clock: systemClock }
const threaded = spec.inThread === true ? undefined : createThreadedService(ctx)
const svc = threaded ?? createService(ctx)
if (svc === undefined) throw new Error('dhcp.mode is off')
await svc.start()
const p = svc.ports()
const tid = threaded !== undefined ? threaded.threadId() : process.pid
// Event-loop delay of the main thread from READY on, when that thread serves DHCP (inThread; bench/dhcp prints it):
// overall max and p99, and the max of each second. At 10 ms resolution: a 1 ms timer woke the loop 1,000 times a
// second, which the no-busy-poll run was then timed with. Not with the DHCP thread: there the monitors' 200 wake-ups
// a second of the main thread were the benchmark's own work, which the appliance does not do, on the CPU of the load
// generator (bench/dhcp/README.md, seventh pass).
const eld = monitorEventLoopDelay({ resolution: 10 })
const perSecondMax: number[] = []
const sec = monitorEventLoopDelay({ resolution: 10 })
if (threaded === undefined) {
  eld.enable()
  sec.enable()
  const secTimer = setInterval(() => { perSecondMax.push(sec.max / 1e6); sec.reset() }, 1000)
  secTimer.unref()
}
// NBD_GC_LOG=1: every GC pause of the heap serving DHCP (epoch ms, duration ms, kind), for bench/dhcp/diagnose.ts: the
// DHCP thread prints its own (src/dhcp/thread/thread-main.ts); in-thread, the main thread's, printed on SIGTERM.
const gcs: string[] = []
if (process.env.NBD_GC_LOG !== undefined && threaded === undefined) {
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) gcs.push(`GC ${(performance.timeOrigin + e.startTime).toFixed(3)} ${e.duration.toFixed(3)} ${(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? '?'}`)
  }).observe({ entryTypes: ['gc'] })
}
process.stdout.write(`READY ${p.dhcp} ${p.proxyDhcp} ${tid ?? ''}\n`)
process.on('SIGTERM', () => {
  void (async () => {
    await svc.stop()
    eld.disable()
    if (threaded === undefined) process.stdout.write(`ELD max ${(eld.max / 1e6).toFixed(1)} p99 ${(eld.percentile(99) / 1e6).toFixed(1)} per-second-max ${perSecondMax.map(x => x.toFixed(0)).join(' ')}\n`)
    if (gcs.length > 0) process.stdout.write(gcs.join('\n') + '\n')
    process.stdout.write(`LEASES ${JSON.stringify(await store.leases.list())}\n`)
    const cpu = process.cpuUsage()
    process.stdout.write(`CPU ${Math.round((cpu.user + cpu.system) / 1000)}\n`)
    await store.close()
    process.exit(0)
  })()
})
