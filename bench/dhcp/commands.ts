// The load generator and the capture, as bench.ts and diagnose.ts both run them: the same DISCOVERs and the same
// tcpdump for every measurement, so their figures compare.
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { CLIENT_IP, SERVER_IP } from '../../test/dhcp/lab/netns.js'

/**
 * Where captures are written: tmpfs when there is one. On disk, the kernel's writeback of the capture's dirty pages
 * (every 5 s, vm.dirty_writeback_centisecs) hit every target 5–6 s into a run (bench/dhcp, 2026-11-24: per-second
 * p99 0.75–1.36 ms in seconds 6–7 for the appliance, on or off its own thread, and stalls in dnsmasq's runs too).
 */
export function captureDir (): string {
  return existsSync('/dev/shm') ? '/dev/shm' : tmpdir()
}

// arch 7 (EFI x64), PXEClient vendor class, GUID: what OVMF sends (test/fixtures/dhcp/ovmf-1-discover.parsed).
const PXE_OPTS = ['-o', '60,' + Buffer.from('PXEClient:Arch:00007:UNDI:003000').toString('hex'), '-o', '93,0007', '-o', '94,010300',
  '-o', '97,002c1b0a5c4e3d504f8162738495a6b7c8']

/**
 * perfdhcp as a relay (giaddr = CLIENT_IP, replies unicast to giaddr:67), DISCOVER/OFFER only (-i: a proxy gives no
 * address), `rate`/s for `seconds` from `clients` distinct MACs; -W: wait for late replies before exiting. `threads`:
 * perfdhcp's -g; its default on more than one CPU is 'multi' (a receiving thread beside the sending one).
 */
export function perfdhcpArgs (rate: number, seconds: number, clients: number, threads?: 'single' | 'multi'): string[] {
  return ['perfdhcp', '-4', '-i', '-l', CLIENT_IP, '-r', String(rate), '-p', String(seconds), '-R', String(clients), '-W', '1000000',
    ...(threads !== undefined ? ['-g', threads] : []), ...PXE_OPTS, SERVER_IP]
}

/**
 * tcpdump of the DHCP traffic on the client's interface into `pcap` (bench/dhcp/pcap.ts reads it). Buffered writes
 * (no -U): with -U it made one write(2) per packet, 10,000 a second at 5,000 DISCOVERs/s, on the CPUs the servers and
 * perfdhcp share; it writes the rest when SIGINT stops it, and bench.ts checks that the capture holds every DISCOVER.
 */
export function tcpdumpArgs (ifname: string, pcap: string): string[] {
  return ['tcpdump', '-i', ifname, '-B', '32768', '-s', '400', '-w', pcap, 'udp port 67']
}

/**
 * Where the load runs. 'shared': wherever the scheduler puts it, next to the server (the load generator and the
 * server compete for the same 2 vCPUs). 'split': perfdhcp and tcpdump on the last CPU, the server's serving thread
 * on CPU 0 (the appliance's main thread, dnsmasq's only one): the nearest this one machine comes to clients on
 * other machines. Both servers get the same treatment.
 */
export type CpuLayout = 'shared' | 'split'

/** The prefix that runs the load generator and the capture on their CPU in `layout`. */
export function loadCpuPrefix (layout: CpuLayout, cpuCount: number): string[] {
  return layout === 'split' ? ['taskset', '-c', String(cpuCount - 1)] : []
}

/** This benchmark's own process and the npx / sh / tsx processes that started it. */
function benchProcesses (): number[] {
  const out: number[] = []
  let pid = process.pid
  for (let depth = 0; depth < 5 && pid > 1; depth++) {
    let stat: string
    try { stat = readFileSync(`/proc/${pid}/stat`, 'latin1') } catch { break }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
    if (depth > 0 && !/^(node|npm|npx|tsx|sh)\b/.test(comm)) break
    out.push(pid)
    pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
  }
  return out
}

/**
 * While the load runs, the benchmark's own processes (benchProcesses, all their threads) get out of its way: they run
 * under SCHED_IDLE (only on a CPU nothing else wants) and, given `cpuList` (taskset syntax; the split layout), on the
 * load generator's CPU. Left alone, the three Node processes that run this script (npx, tsx, the script) all ran V8's
 * memory-reducer GC ~8 s after they started, with their helper threads, in the first target's storm: 3–5 ms slices
 * taken from the busy-polling DHCP thread (CPU 0) or from perfdhcp (which then sent in bursts), 5–6 s into the run
 * (`perf record -C 0|1 -e sched:sched_switch`, 2026-11-24). `false` puts them back (SCHED_OTHER, every CPU). What
 * they start while idle inherits SCHED_IDLE: the load runs under `chrt -o 0` (loadPolicyPrefix).
 */
export function benchOutOfTheWay (on: boolean, cpuList?: string): void {
  for (const pid of benchProcesses()) {
    spawnSync('chrt', ['-a', on ? '-i' : '-o', '-p', '0', String(pid)], { stdio: 'ignore' })
    if (cpuList !== undefined) spawnSync('taskset', ['-a', '-p', '-c', cpuList, String(pid)], { stdio: 'ignore' })
  }
}

/** Runs a command under the normal policy (SCHED_OTHER), whatever the policy of the process starting it. */
export const loadPolicyPrefix: readonly string[] = ['chrt', '-o', '0']

/** The CPU the serving thread is pinned to in `layout`, or undefined. */
export function serverCpu (layout: CpuLayout): number | undefined {
  return layout === 'split' ? 0 : undefined
}
