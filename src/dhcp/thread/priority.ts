// The DHCP thread's scheduling priority: `dhcp.threadPriorityBoost` nice levels above the rest of the process.
// Linux keeps a nice value per thread (setpriority(2) with a thread id; libuv's uv_os_setpriority passes it through), so
// the DHCP thread alone can outrank the main thread's work: the inventory writes of a boot storm, HTTP and TFTP
// transfers, LevelDB's threads. Measured (bench/dhcp/README.md, thirteenth pass): with the load generator on a CPU of
// its own, p99 0.45–0.68× dnsmasq's at a boost of 5 against 1.19–2.35× without, in three paired runs; the cold storm's
// first second was where the main thread, recording 1,000 new machines, preempted the DHCP thread.
// Raising a priority needs root or CAP_SYS_NICE (otherwise EACCES): the thread then stays level and says so.
import { getPriority, setPriority } from 'node:os'

export interface PriorityOutcome {
  /** the thread's nice value afterwards */
  nice: number
  /** the nice value it had (the process's, inherited) */
  was: number
  /** why it was not raised, when it was not */
  notRaised?: string
}

/** Linux nice values run from -20 (most favoured) to 19. */
const NICE_MIN = -20

/**
 * Lowers thread `tid`'s nice value by `boost` (never below -20). `ops` stands in for node:os in tests. Never throws:
 * a refusal (EACCES, EPERM) or an unknown thread is an outcome, not an error.
 */
export function raiseThreadPriority (tid: number | undefined, boost: number,
  ops: { get: (id: number) => number, set: (id: number, nice: number) => void } = { get: getPriority, set: setPriority }): PriorityOutcome {
  if (tid === undefined) return { nice: 0, was: 0, notRaised: 'no thread id (not Linux)' }
  let was: number
  try {
    was = ops.get(tid)
  } catch (err) {
    return { nice: 0, was: 0, notRaised: `cannot read the thread's priority: ${(err as Error).message}` }
  }
  if (!(boost > 0)) return { nice: was, was, notRaised: 'dhcp.threadPriorityBoost is 0' }
  const target = Math.max(NICE_MIN, was - boost)
  if (target === was) return { nice: was, was, notRaised: `already at nice ${NICE_MIN}` }
  try {
    ops.set(tid, target)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? ''
    const why = /EACCES|EPERM/.test(`${code} ${(err as Error).message}`)
      ? 'raising a priority needs root or CAP_SYS_NICE (systemd/netboot.service: add it in a drop-in, see its comment)'
      : (err as Error).message
    return { nice: was, was, notRaised: why }
  }
  return { nice: ops.get(tid), was }
}
