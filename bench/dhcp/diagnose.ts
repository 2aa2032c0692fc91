// Where the appliance's DHCP latency tail comes from: one appliance process, several perfdhcp storms against it (the
// first against a cold process, the later ones warm), and for each storm the slow replies grouped into clusters
// (replies > 0.15 ms less than 5 ms apart), how evenly perfdhcp sent, and how many clusters began within 2 ms of a
// GC pause of the heap serving DHCP (NBD_GC_LOG in test/dhcp/lab/run-service.ts). --in-thread: the DHCP service on the
// main thread instead of its own (src/dhcp/thread/).
//   npx tsx bench/dhcp/diagnose.ts [--runs 2] [--seconds 5] [--rate 5000] [--clients 1000] [--store level|memory] [--busy-poll 300]
//     [--idle 1] [--new-macs] [--cpus shared|split] [--thread-nice N]
// --idle S: the appliance sits idle S seconds before each storm (V8's memory reducer shrinks an idle heap after ~8 s);
// --new-macs: each storm comes from other MACs (every DISCOVER of its first round a first contact). Per storm it also
// prints what the service's threads did (bench/dhcp/proc-stats.ts): CPU, page faults, preemptions.
// Extra V8 flags for the service: NBD_NODE_FLAGS="--trace-gc"; a nice level: NBD_NICE=-10; list every cluster:
// --clusters; the service's own output (what NBD_NODE_FLAGS traces): --service-output. Root: it creates network namespaces (test/dhcp/lab/netns.ts) and deletes them afterwards.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, tmpdir } from 'node:os'
import { createLab, SERVER_IP } from '../../test/dhcp/lab/netns.js'
import { benchOutOfTheWay, captureDir, loadCpuPrefix, loadPolicyPrefix, perfdhcpArgs, serverCpu, tcpdumpArgs, type CpuLayout } from './commands.js'
import { discoverOfferTimings, percentile, sendEvenness } from './pcap.js'
import { formatStats, procStats, statsDelta } from './proc-stats.js'

const arg = (n: string, d: string): string => { const i = process.argv.indexOf(`--${n}`); return i > 0 ? process.argv[i + 1] : d }
const RUNS = Number(arg('runs', '2')); const SECONDS = arg('seconds', '5'); const STORE = arg('store', 'level')
const SLOW_MS = 0.15
/** --cpus shared|split (default shared): as bench.ts, commands.ts CpuLayout */
const LAYOUT = arg('cpus', 'shared') as CpuLayout
if (LAYOUT !== 'shared' && LAYOUT !== 'split') throw new Error(`--cpus ${String(LAYOUT)}: expected shared or split`)
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Cluster { startEpochMs: number, startS: number, n: number, maxMs: number }
interface Storm { t0: number, endMs: number, answered: number }

/** Slow replies (> SLOW_MS) whose DISCOVERs were sent less than 5 ms apart form one cluster. */
function clustersOf (series: Array<[number, number]>, t0: number): Cluster[] {
  const slow = series.filter(([, ms]) => ms > SLOW_MS).sort((a, b) => a[0] - b[0])
  const out: Cluster[] = []
  let lastAt = -1
  for (const [at, ms] of slow) {
    const c = out[out.length - 1]
    if (c !== undefined && at - lastAt < 0.005) { c.n++; c.maxMs = Math.max(c.maxMs, ms) } else out.push({ startEpochMs: t0 + at * 1000, startS: at, n: 1, maxMs: ms })
    lastAt = at
  }
  return out
}

process.env.NBD_GC_LOG = '1'
const dir = mkdtempSync(join(tmpdir(), 'nbd-diagnose-'))
const captures = mkdtempSync(join(captureDir(), 'nbd-diagnose-pcap-'))
const lab = createLab()
try {
  const db = STORE === 'level' ? { stateDir: join(dir, 'db') } : {}
  const svc = await lab.startService({ server: { address: SERVER_IP, bind: '0.0.0.0' }, dhcp: { mode: 'proxy', busyPollMicroseconds: Number(arg('busy-poll', '300')) }, inThread: process.argv.includes('--in-thread'), ...db })
  const cpu = serverCpu(LAYOUT)
  if (cpu !== undefined) spawnSync('taskset', ['-p', '-c', String(cpu), String(svc.tid ?? svc.proc.pid)], { stdio: 'ignore' })
  // --thread-nice N: as bench.ts, the serving thread alone reniced to N after start
  if (arg('thread-nice', '') !== '') spawnSync('renice', ['-n', arg('thread-nice', ''), '-p', String(svc.tid ?? svc.proc.pid)], { stdio: 'ignore' })
  const loadCpu = loadCpuPrefix(LAYOUT, cpus().length)
  const clusters: Cluster[][] = []
  const storms: Storm[] = []
  for (let run = 0; run < RUNS; run++) {
    const pcap = join(captures, `r${run}.pcap`)
    const dump = spawn('ip', ['netns', 'exec', lab.clientNs, ...loadCpu, ...tcpdumpArgs(lab.clientIf, pcap)], { stdio: 'ignore' })
    benchOutOfTheWay(true, LAYOUT === 'split' ? String(cpus().length - 1) : undefined)
    await sleep(Number(arg('idle', '1')) * 1000)
    const load = perfdhcpArgs(Number(arg('rate', '5000')), Number(SECONDS), Number(arg('clients', '1000')))
    // perfdhcp derives its client MACs from a base MAC (-b mac=…): another base, other machines
    if (process.argv.includes('--new-macs')) load.splice(1, 0, '-b', `mac=02:00:00:00:${(run + 1).toString(16).padStart(2, '0')}:00`)
    const before = procStats(svc.proc.pid as number, svc.tid)
    spawnSync(loadPolicyPrefix[0], [...loadPolicyPrefix.slice(1), 'ip', 'netns', 'exec', lab.clientNs, ...loadCpu, ...load])
    const during = statsDelta(before, procStats(svc.proc.pid as number, svc.tid))
    await sleep(500)
    benchOutOfTheWay(false, LAYOUT === 'split' ? `0-${cpus().length - 1}` : undefined)
    await new Promise<void>(resolve => { dump.on('exit', () => resolve()); dump.kill('SIGINT') })
    const t = discoverOfferTimings(pcap)
    const cs = clustersOf(t.series, t.t0)
    clusters.push(cs)
    storms.push({ t0: t.t0, endMs: t.t0 + (t.series[t.series.length - 1]?.[0] ?? 0) * 1000, answered: t.answered })
    const firstHalf = t.series.filter(([at]) => at < 0.5)
    const even = sendEvenness(t.series)
    console.log(`storm ${run} (${run === 0 ? 'cold process' : 'warm'}): ${t.answered}/${t.sent} answered; p50 ${percentile(t.latenciesMs, 50).toFixed(3)} ` +
      `p99 ${percentile(t.latenciesMs, 99).toFixed(3)} p99.9 ${percentile(t.latenciesMs, 99.9).toFixed(3)} ms; > ${SLOW_MS} ms: ` +
      `${t.latenciesMs.filter(ms => ms > SLOW_MS).length} (first 0.5 s: ${firstHalf.filter(([, ms]) => ms > SLOW_MS).length}); ` +
      `${cs.length} clusters, ${cs.filter(c => c.n >= 5).length} of ≥ 5 replies; perfdhcp bursts/stalls ${even.bursts}/${even.stalls}`)
    console.log(`  service during storm ${run}: ${formatStats(during)}`)
  }
  const out = await svc.stop()
  if (process.argv.includes('--service-output')) console.log(out.split('\n').filter(l => !l.startsWith('GC ') && !l.startsWith('LEASES ')).join('\n'))
  const gcs = out.split('\n').filter(l => l.startsWith('GC ')).map(l => l.split(' ')).map(([, at, ms, kind]) => ({ at: Number(at), ms: Number(ms), kind }))
  const all = clusters.flat().filter(c => c.n >= 5)
  const nearGc = (c: Cluster): typeof gcs => gcs.filter(g => g.at + g.ms >= c.startEpochMs - 2 && g.at <= c.startEpochMs + 1)
  const withGc = all.filter(c => nearGc(c).length > 0)
  console.log(`clusters of ≥ 5 slow replies that began within 2 ms of a GC pause: ${withGc.length} of ${all.length} ` +
    `(${withGc.reduce((a, c) => a + c.n, 0)} of ${all.reduce((a, c) => a + c.n, 0)} replies); GC pauses while the service ran: ${gcs.length}, ` +
    `longest ${Math.max(0, ...gcs.map(g => g.ms)).toFixed(2)} ms`)
  // perf_hooks.constants: NODE_PERFORMANCE_GC_MINOR 1 (scavenge), MAJOR 4 (mark-compact), INCREMENTAL 8, WEAKCB 16
  const kinds = new Map<string, number[]>()
  for (const g of gcs) kinds.set(g.kind, [...(kinds.get(g.kind) ?? []), g.ms])
  console.log('GC pauses by kind: ' + [...kinds].map(([k, ms]) => `kind ${k}: ${ms.length}, median ${percentile(ms, 50).toFixed(2)} ms, ` +
    `max ${Math.max(...ms).toFixed(2)} ms`).join('; '))
  storms.forEach((st, run) => {
    const inStorm = gcs.filter(g => g.at >= st.t0 && g.at <= st.endMs)
    console.log(`storm ${run}: ${inStorm.length} GC pauses (${inStorm.filter(g => g.kind === '1').length} scavenges), ` +
      `${inStorm.reduce((a, g) => a + g.ms, 0).toFixed(1)} ms in all; ${(st.answered / Math.max(1, inStorm.filter(g => g.kind === '1').length)).toFixed(0)} DISCOVERs per scavenge`)
  })
  if (process.argv.includes('--clusters')) {
    clusters.forEach((cs, run) => {
      for (const c of cs.filter(x => x.n >= 5)) {
        console.log(`storm ${run} +${c.startS.toFixed(3)} s: ${c.n} replies, max ${c.maxMs.toFixed(2)} ms; GC: ${nearGc(c).map(g => `kind ${g.kind} ${g.ms.toFixed(2)} ms`).join(', ') || '-'}`)
      }
    })
  }
} finally {
  lab.cleanup()
  rmSync(dir, { recursive: true, force: true })
  rmSync(captures, { recursive: true, force: true })
}
