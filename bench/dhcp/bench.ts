// proxyDHCP throughput and latency: perfdhcp (kea-admin) against the appliance and against dnsmasq in proxy
// mode, same PXE options, same run, inside network namespaces (nothing leaves them).
//   npx tsx bench/dhcp/bench.ts [--rate 5000] [--seconds 10] [--store level|memory] [--clients N] [--busy-poll 300] [--receive both] [--nice N] [--thread-nice N] [--thread-fifo N] [--reference-twice]
//     [--reference-first] [--skip-no-poll] [--perfdhcp-threads single|multi] [--json FILE]
// The appliance runs with dhcp.busyPollMicroseconds = --busy-poll (default: the config default, 300) and with 0
// ("no poll"), each with the CPU time its process used, then dnsmasq; with --receive both (the default) each of those
// twice: reading with recvmmsg (native/udp-batch, "appliance") and with Node's dgram ("dgram").
// perfdhcp acts as a relay (giaddr = its address, replies unicast to giaddr:67); -i = DISCOVER/OFFER only,
// since a proxy gives no address. Latency p50/p99 come from a tcpdump capture in the client namespace.
// --nice N: the appliance runs under `nice -n N` (as a systemd unit's Nice= would run it); dnsmasq never does.
// --thread-nice N: after start, the serving thread alone is reniced to N (the rest of the process keeps --nice).
// --thread-fifo N: after start, the serving thread alone runs SCHED_FIFO at priority N (chrt), so a DISCOVER's
// wake-up preempts whatever else runs on its CPU (the kernel's RT throttling still leaves others 5 %).
// --cpus shared|split|both (default both): where the load runs (commands.ts CpuLayout). 'shared': perfdhcp, tcpdump
// and the server wherever the scheduler puts them; 'split': perfdhcp and tcpdump on the last CPU, the server's
// serving thread on CPU 0. Each layout runs all three targets, and ratios compare targets of one layout.
// The appliance's DHCP service runs on its own thread, as `netboot serve` runs it (src/dhcp/thread/); --in-thread runs
// it on the main thread instead (src/dhcp/service.ts). Captures are written to tmpfs (commands.ts captureDir).
// KEEP_PCAP=<dir>: keep each target's capture there.
// Each target's row also gives its CPU per DISCOVER: the whole server process's CPU time (every thread, user + system)
// over its storm, divided by the DISCOVERs sent; with busy polling that includes the spinning.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir, loadavg, cpus } from 'node:os'
import { join } from 'node:path'
import { createLab, SERVER_IP, type Lab } from '../../test/dhcp/lab/netns.js'
import { benchOutOfTheWay, captureDir, loadCpuPrefix, loadPolicyPrefix, perfdhcpArgs, serverCpu, tcpdumpArgs, type CpuLayout } from './commands.js'
import { discoverOfferTimings, percentile, perSecondP50, sendEvenness } from './pcap.js'
import { processCpuMs } from './proc-stats.js'

const arg = (name: string, def: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def }
const RATE = Number(arg('rate', '5000')); const SECONDS = Number(arg('seconds', '10')); const STORE = arg('store', 'level')
// Distinct client MACs: default every DISCOVER a new machine (worst case: one inventory write per packet).
const CLIENTS = Number(arg('clients', String(RATE * SECONDS * 2)))
const BUSY_POLL = Number(arg('busy-poll', '300'))
const NICE = arg('nice', '')
/** --thread-nice N: after start, the serving thread alone (svc.tid) is reniced to N */
const THREAD_NICE = arg('thread-nice', '')
/** --thread-fifo N: after start, the serving thread alone runs SCHED_FIFO at priority N */
const THREAD_FIFO = arg('thread-fifo', '')
const CPUS = arg('cpus', 'both')
/** --receive recvmmsg|dgram|both (default both): what reads the appliance's ports (dhcp.batchReceive true / false) */
const RECEIVE = arg('receive', 'both')
if (!['recvmmsg', 'dgram', 'both'].includes(RECEIVE)) throw new Error(`--receive ${RECEIVE}: expected recvmmsg, dgram or both`)
const RECEIVES = RECEIVE === 'both' ? ['recvmmsg', 'dgram'] : [RECEIVE]
/**
 * --reference-twice: dnsmasq is measured twice in each layout ("dnsmasq again", a fresh process): the ratio of the
 * two is what a p99 ratio between two runs of the same server looks like on this machine, the noise any one run's
 * appliance/dnsmasq ratio carries.
 */
const REFERENCE_TWICE = process.argv.includes('--reference-twice')
/** --reference-first: in each layout, dnsmasq before the appliance (the first target after the machine has idled is
 * the slower one, whichever server it is: fifteenth pass) */
const REFERENCE_FIRST = process.argv.includes('--reference-first')
/** --in-thread: the DHCP service on the main thread (src/dhcp/service.ts), not on its own (the appliance's way) */
const IN_THREAD = process.argv.includes('--in-thread')
/** --skip-no-poll: leave out the appliance without busy polling (the "no poll" rows) */
const SKIP_NO_POLL = process.argv.includes('--skip-no-poll')
/** --json FILE: also write every target's figures there (bench/dhcp/series.ts reads them) */
const JSON_OUT = arg('json', '')
/** --perfdhcp-threads single|multi: perfdhcp's -g (unset: its own default, 'multi' on more than one CPU) */
const PERFDHCP_THREADS = arg('perfdhcp-threads', '')
if (!['', 'single', 'multi'].includes(PERFDHCP_THREADS)) throw new Error(`--perfdhcp-threads ${PERFDHCP_THREADS}: expected single or multi`)
if (!['shared', 'split', 'both'].includes(CPUS)) throw new Error(`--cpus ${CPUS}: expected shared, split or both`)
const LAYOUTS: CpuLayout[] = CPUS === 'both' ? ['shared', 'split'] : [CPUS as CpuLayout]

interface Result {
  layout: CpuLayout, captureLost: number,
  perSecond: string, perSecond99: string, name: string, sent: number, received: number, drops: number, offersPerSec: number, p50: number, p99: number,
  /** p99 of the DISCOVERs sent after the first second of the run */
  p99Later: number, bursts: number, stalls: number, perfdhcpAvgMs: string,
  /** CPU time of the target's whole process (all threads, user + system) from just before the storm to just after it */
  stormCpuMs: number
  /** perfdhcp's own CPU time for the run (user + system) */
  perfdhcpCpuMs: number
}

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms))

/**
 * Between targets: the stopped appliance leaves its LevelDB's last writes as dirty pages, which the kernel would
 * write back in the next target's storm (the sixth pass found writeback of the captures in every target's p99).
 * sync(1) writes them before the next target starts.
 */
function settle (): void {
  spawnSync('sync', [], { stdio: 'ignore' })
}

function startIn (ns: string, cmd: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] })
}

async function stopProc (p: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.exitCode !== null || p.pid === undefined) return
  await new Promise<void>(resolve => { p.on('exit', () => resolve()); process.kill(p.pid as number, sig) })
}

async function measure (lab: Lab, name: string, layout: CpuLayout, dir: string, serverPid: number | undefined): Promise<Result> {
  const pcap = join(dir, `${name}-${layout}.pcap`)
  const load = loadCpuPrefix(layout, cpus().length)
  const dump = startIn(lab.clientNs, [...load, ...tcpdumpArgs(lab.clientIf, pcap)])
  // This process (and npx, tsx) idle while the load runs, on its CPU in split (commands.ts benchOutOfTheWay)
  benchOutOfTheWay(true, layout === 'split' ? String(cpus().length - 1) : undefined)
  await sleep(1000)
  const cpuBefore = processCpuMs(serverPid)
  // /usr/bin/time: the load generator's own CPU time (user + system), printed beside the target's
  const threads = PERFDHCP_THREADS === '' ? undefined : PERFDHCP_THREADS as 'single' | 'multi'
  const r = spawnSync(loadPolicyPrefix[0], [...loadPolicyPrefix.slice(1), 'ip', 'netns', 'exec', lab.clientNs, ...load,
    '/usr/bin/time', '-f', 'perfdhcp CPU %U %S', ...perfdhcpArgs(RATE, SECONDS, CLIENTS, threads)], { encoding: 'utf8' })
  await sleep(500)
  const stormCpuMs = processCpuMs(serverPid) - cpuBefore
  benchOutOfTheWay(false, layout === 'split' ? `0-${cpus().length - 1}` : undefined)
  await stopProc(dump, 'SIGINT')
  const out = r.stdout + r.stderr
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN)
  const perfdhcpCpu = /perfdhcp CPU ([\d.]+) ([\d.]+)/.exec(out)   // user, system (s)
  const sent = num(/sent packets: (\d+)/); const received = num(/received packets: (\d+)/)
  const timing = discoverOfferTimings(pcap)
  if (process.env.KEEP_PCAP !== undefined) copyFileSync(pcap, join(process.env.KEEP_PCAP, `${name.replace(/ /g, '-')}-${layout}.pcap`))
  return {
    layout, captureLost: sent - timing.sent, name, sent, received, drops: sent - received, perSecond: perSecondP50(timing.series), perSecond99: perSecondP50(timing.series, 99),
    offersPerSec: Math.round(received / SECONDS),
    p50: percentile(timing.latenciesMs, 50), p99: percentile(timing.latenciesMs, 99),
    p99Later: percentile(timing.series.filter(([at]) => at >= 1).map(([, ms]) => ms), 99), ...sendEvenness(timing.series),
    perfdhcpAvgMs: /avg delay: ([\d.]+ ms)/.exec(out)?.[1] ?? '?', stormCpuMs,
    perfdhcpCpuMs: perfdhcpCpu === null ? NaN : Math.round(1000 * (Number(perfdhcpCpu[1]) + Number(perfdhcpCpu[2])))
  }
}

async function main (): Promise<void> {
  if (NICE !== '') process.env.NBD_NICE = NICE   // test/dhcp/lab/netns.ts startService
  const dir = await mkdtemp(join(tmpdir(), 'nbd-bench-'))
  const captures = await mkdtemp(join(captureDir(), 'nbd-bench-pcap-'))
  const lab = createLab()
  const results: Result[] = []
  const applianceCpu: string[] = []
  try {
    for (const layout of LAYOUTS) {
      const pin = serverCpu(layout)
      const appliance = async (): Promise<void> => {
        const targets = RECEIVES.flatMap(receive => SKIP_NO_POLL ? [[receive, BUSY_POLL] as const] : [[receive, BUSY_POLL], [receive, 0]] as const)
        for (const [receive, busyPollMicroseconds] of targets) {
          const name = `${receive === 'dgram' ? 'dgram' : 'appliance'}${busyPollMicroseconds === 0 ? ' no poll' : ''}`
          const db = STORE === 'level' ? { stateDir: join(dir, `db-${layout}-${receive}-${busyPollMicroseconds}`) } : {}
          const svc = await lab.startService({ server: { address: SERVER_IP, bind: '0.0.0.0' }, dhcp: { mode: 'proxy', busyPollMicroseconds, batchReceive: receive === 'recvmmsg' }, inThread: IN_THREAD, ...db })
          // the thread that serves DHCP only (the DHCP thread; with --in-thread the main thread, whose tid is the pid)
          if (THREAD_NICE !== '') spawnSync('renice', ['-n', THREAD_NICE, '-p', String(svc.tid ?? svc.proc.pid)], { stdio: 'ignore' })
          if (THREAD_FIFO !== '') {
            const r = spawnSync('chrt', ['-f', '-p', THREAD_FIFO, String(svc.tid ?? svc.proc.pid)], { encoding: 'utf8' })
            if (r.status !== 0) throw new Error(`chrt -f -p ${THREAD_FIFO}: ${r.stderr}`)
          }
          if (pin !== undefined) spawnSync('taskset', ['-p', '-c', String(pin), String(svc.tid ?? svc.proc.pid)], { stdio: 'ignore' })
          results.push(await measure(lab, name, layout, captures, svc.proc.pid))
          const svcOut = await svc.stop()
          settle()
          const cpuMs = Number(/CPU (\d+)/.exec(svcOut)?.[1] ?? NaN)
          // The event-loop delay is the main thread's: only in-thread is that the loop serving DHCP.
          applianceCpu.push(`${name} [${layout}] (busyPollMicroseconds ${busyPollMicroseconds}) CPU, whole process incl. start-up: ${cpuMs} ms` +
            (IN_THREAD ? `; event-loop delay ms (from READY; resolution 10 ms): ${/ELD (.*)/.exec(svcOut)?.[1] ?? '?'}` : ''))
        }
      }
      const reference = async (): Promise<void> => {
        for (const name of REFERENCE_TWICE ? ['dnsmasq', 'dnsmasq again'] : ['dnsmasq']) {
          const dm = startIn(lab.serverNs, [...(pin !== undefined ? ['taskset', '-c', String(pin)] : []), 'dnsmasq', '-k', '--conf-file=/dev/null', '--port=0', '--log-facility=/dev/null', '--quiet-dhcp',
            `--dhcp-range=${SERVER_IP},proxy,255.255.255.0`, '--pxe-service=X86-64_EFI,Netboot,ipxe.efi', '--pxe-service=x86PC,Netboot,undionly'])
          await sleep(1000)
          results.push(await measure(lab, name, layout, captures, dm.pid))
          await stopProc(dm)
          settle()
        }
      }
      if (REFERENCE_FIRST) { await reference(); await appliance() } else { await appliance(); await reference() }
    }
  } finally {
    lab.cleanup()
    await rm(dir, { recursive: true, force: true })
    await rm(captures, { recursive: true, force: true })
  }
  console.log(`perfdhcp DISCOVER→OFFER, ${RATE}/s for ${SECONDS} s, relay mode, PXE options (arch 7); appliance store: ${STORE}, ${CLIENTS} distinct clients${NICE !== '' ? `; appliance under nice -n ${NICE}` : ''}`)
  console.log(`host: ${cpus().length} CPUs, load average ${loadavg().map(x => x.toFixed(1)).join(' ')} (other work shares the machine)${haltPolling()}`)
  console.log('CPUs    target          sent   recv  drops  offers/s  p50 ms  p99 ms  p99 after 1st s  perfdhcp bursts/stalls  perfdhcp avg  CPU µs/DISCOVER  perfdhcp CPU s')
  for (const r of results) {
    const cpuPer = (r.stormCpuMs * 1000 / r.sent).toFixed(0)
    console.log(`${r.layout.padEnd(7)} ${r.name.padEnd(13)} ${String(r.sent).padStart(6)} ${String(r.received).padStart(6)} ${String(r.drops).padStart(6)} ${String(r.offersPerSec).padStart(9)} ${r.p50.toFixed(3).padStart(7)} ${r.p99.toFixed(3).padStart(7)} ${r.p99Later.toFixed(3).padStart(16)} ${`${r.bursts}/${r.stalls}`.padStart(23)}  ${r.perfdhcpAvgMs.padEnd(11)}  ${cpuPer.padStart(15)}  ${(r.perfdhcpCpuMs / 1000).toFixed(2).padStart(13)}`)
  }
  console.log('(CPU µs/DISCOVER: CPU time of the whole server process, every thread, user + system, from just before the storm')
  console.log(' to 0.5 s after it, per DISCOVER sent; with busy polling it includes what the serving thread spins.)')
  console.log('(perfdhcp bursts: DISCOVERs sent < 20 µs after the previous one; stalls: gaps > 1 ms. Same load generator for every target:')
  console.log(' more of both means the target left perfdhcp less CPU, and part of its tail is queueing behind the bursts.)')
  for (const r of results.filter(x => x.captureLost !== 0)) console.log(`WARNING: the capture of ${r.name} [${r.layout}] lacks ${r.captureLost} of perfdhcp's DISCOVERs: its latencies are incomplete`)
  for (const r of results) console.log(`${r.name} [${r.layout}] p50 ms per second of the run: ${r.perSecond}\n${r.name} [${r.layout}] p99 ms per second of the run: ${r.perSecond99}`)
  console.log(applianceCpu.join('\n'))
  for (const a of results.filter(r => r.name !== 'dnsmasq')) {
    const d = results.find(r => r.name === 'dnsmasq' && r.layout === a.layout)
    if (d === undefined) continue
    console.log(`ratio ${a.name}/dnsmasq [${a.layout}]: offers/s ${(a.offersPerSec / d.offersPerSec).toFixed(2)}, p50 ${(a.p50 / d.p50).toFixed(2)}, p99 ${(a.p99 / d.p99).toFixed(2)}, p99 after 1st s ${(a.p99Later / d.p99Later).toFixed(2)}`)
  }
  if (JSON_OUT !== '') writeFileSync(JSON_OUT, JSON.stringify({ loadavg: loadavg(), results }))
}

await main()

/**
 * The guest kernel's halt polling (cpuidle-haltpoll), when it has one: it sets what a wake-up costs, which
 * dnsmasq pays and the appliance's busy polling avoids (bench/dhcp/README.md, seventh pass, the VM's idle loop).
 */
function haltPolling (): string {
  try {
    const ns = readFileSync('/sys/module/haltpoll/parameters/guest_halt_poll_ns', 'utf8').trim()
    return `, guest halt polling ${ns} ns${ns === '0' ? ' (off: every wake-up from idle is a halt)' : ''}`
  } catch { return '' }
}
