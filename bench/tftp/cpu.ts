// CPU time of a benchmarked server and everything it forks (tftpd-hpa forks one child per transfer and lets the
// kernel reap it, so /proc/PID/stat never sees the children's time). Each server is moved into a cgroup of its
// own: cgroup v2 (cpu.stat usage_usec) where mounted, else v1 cpuacct (cpuacct.usage); without either, the
// process's own utime + stime. Root only; the cgroups are removed by release().
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'

export interface CpuMeter { seconds: () => number, release: () => void, kind: string }

const V2_ROOTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']
const V1_CPUACCT = '/sys/fs/cgroup/cpuacct'

function tryCgroup (dir: string, pid: number, read: (dir: string) => number, kind: string): CpuMeter | undefined {
  try {
    mkdirSync(dir)
    writeFileSync(join(dir, 'cgroup.procs'), String(pid))
    read(dir)
    return { seconds: () => read(dir), release: () => { try { rmdirSync(dir) } catch { /* still has tasks */ } }, kind }
  } catch {
    try { rmdirSync(dir) } catch { /* never created */ }
    return undefined
  }
}

const v2 = (dir: string): number => Number(/usage_usec (\d+)/.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1]) / 1e6
const v1 = (dir: string): number => Number(readFileSync(join(dir, 'cpuacct.usage'), 'utf8')) / 1e9

function procSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')   // fields from 3 (state) on
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100
  } catch { return 0 }
}

export function meterCpu (pid: number, name: string): CpuMeter {
  const leaf = `netboot-bench-${name}-${process.pid}`
  for (const root of V2_ROOTS) {
    if (!existsSync(join(root, 'cgroup.controllers'))) continue
    const m = tryCgroup(join(root, leaf), pid, v2, 'cgroup v2')
    if (m !== undefined) return m
  }
  if (existsSync(join(V1_CPUACCT, 'cpuacct.usage'))) {
    const m = tryCgroup(join(V1_CPUACCT, leaf), pid, v1, 'cgroup v1 cpuacct')
    if (m !== undefined) return m
  }
  return { seconds: () => procSeconds(pid), release: () => {}, kind: '/proc (children not counted)' }
}
