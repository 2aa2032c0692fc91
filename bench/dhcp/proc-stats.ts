// What a process's threads did between two readings, from /proc (Linux): CPU time and minor page faults of the thread
// serving DHCP (the appliance's DHCP thread, or the main thread) and of all other threads (V8's compiler and GC
// helpers, libuv's pool, the main thread), and the serving thread's involuntary context switches (times it was
// preempted). bench/dhcp/diagnose.ts prints it per storm.
import { readFileSync, readdirSync } from 'node:fs'

export interface ProcStats { mainCpuMs: number, mainFaults: number, otherCpuMs: number, otherFaults: number, preempted: number }

const TICK_MS = 10   // USER_HZ = 100 on Linux

/** Fields after the command name of /proc/…/stat: index 7 = minflt, 11 = utime, 12 = stime (proc(5), 0-based from state). */
function statFields (path: string): string[] {
  const s = readFileSync(path, 'latin1')
  return s.slice(s.lastIndexOf(')') + 2).split(' ')
}

/** utime + stime of every thread of process `pid` so far, in ms (its /proc/PID/stat); NaN when it cannot be read. */
export function processCpuMs (pid: number | undefined): number {
  if (pid === undefined) return NaN
  try {
    const f = statFields(`/proc/${pid}/stat`)
    return (Number(f[11]) + Number(f[12])) * TICK_MS
  } catch { return NaN }
}

/** `servingTid`: the thread that serves DHCP (ServiceProc.tid); the main thread's id is the pid. */
export function procStats (pid: number, servingTid = pid): ProcStats {
  const out: ProcStats = { mainCpuMs: 0, mainFaults: 0, otherCpuMs: 0, otherFaults: 0, preempted: 0 }
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let f: string[]
    try { f = statFields(`/proc/${pid}/task/${tid}/stat`) } catch { continue }   // a thread that just ended
    const cpu = (Number(f[11]) + Number(f[12])) * TICK_MS
    if (Number(tid) === servingTid) { out.mainCpuMs += cpu; out.mainFaults += Number(f[7]) } else { out.otherCpuMs += cpu; out.otherFaults += Number(f[7]) }
  }
  out.preempted = Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/task/${servingTid}/status`, 'latin1'))?.[1] ?? 0)
  return out
}

export function statsDelta (before: ProcStats, after: ProcStats): ProcStats {
  return {
    mainCpuMs: after.mainCpuMs - before.mainCpuMs,
    mainFaults: after.mainFaults - before.mainFaults,
    otherCpuMs: after.otherCpuMs - before.otherCpuMs,
    otherFaults: after.otherFaults - before.otherFaults,
    preempted: after.preempted - before.preempted
  }
}

export function formatStats (d: ProcStats): string {
  return `serving thread ${d.mainCpuMs} ms CPU, ${d.mainFaults} page faults; other threads ${d.otherCpuMs} ms CPU, ` +
    `${d.otherFaults} page faults; preempted ${d.preempted} times`
}
