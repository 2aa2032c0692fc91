// What a machine's past deployments mean for the next boot, pure: is a task sequence running right now (the PE
// rebooted mid-sequence), and does an advertisement's rerun behaviour let it run again.
import type { Advertisement } from '../config/schema.js'
import type { Deployment, Machine } from '../store/types.js'

export interface HistoryContext {
  /** this machine's deployments, newest first */
  newest: readonly Deployment[]
  /** the same, per advertisement id */
  byAd: ReadonlyMap<string, readonly Deployment[]>
  machine?: Machine
  now: Date
  /** deployment.checkInTimeoutMinutes in ms: a running PE silent for longer counts as failed */
  timeoutMs: number
}

/** Sort and group the history once per decision (a machine may have many past deployments). */
export function historyContext (history: readonly Deployment[], machine: Machine | undefined, now: Date, timeoutMs: number): HistoryContext {
  const newest = [...history].sort(newestFirst)
  const byAd = new Map<string, Deployment[]>()
  for (const d of newest) {
    const list = byAd.get(d.advertisementId)
    if (list === undefined) byAd.set(d.advertisementId, [d])
    else list.push(d)
  }
  return { newest, byAd, machine, now, timeoutMs }
}

/** A past attempt as the policy sees it. */
export interface Attempt {
  deployment: Deployment
  result: 'succeeded' | 'failed'
  /** ISO time it ended (endedAt, or last update + timeout for a PE that went silent) */
  at: string
  timedOut: boolean
}

const newestFirst = (a: Deployment, b: Deployment): number =>
  a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0

function silentSince (d: Deployment, h: HistoryContext): boolean {
  return Date.parse(d.updatedAt) + h.timeoutMs <= h.now.getTime()
}

/**
 * The deployment of this machine whose task sequence is running and still reporting, if any. A PXE boot now
 * almost surely is the sequence's own reboot (e.g. after applying the image), so the answer is the local disk.
 */
export function runningDeployment (h: HistoryContext): Deployment | undefined {
  return h.newest.find(d => d.state === 'running' && !silentSince(d, h))
}

/** A deployment of this advertisement issued a token but its PE has not checked in yet (PXE retried). */
export function bootingDeployment (h: HistoryContext, adId: string): Deployment | undefined {
  return h.byAd.get(adId)?.find(d => d.state === 'booting' && !silentSince(d, h))
}

/**
 * The latest attempt of this advertisement that counts. An attempt is a deployment whose PE checked in
 * (currentStep set) and ended, or went silent past the timeout (a failure the sweep has not recorded yet).
 * Deployments whose PE never checked in (superseded by a new boot, swept while booting) ran nothing and do not
 * count. With `reimageAfter` (an admin re-image), attempts that ended before it do not count either.
 */
export function lastAttempt (h: HistoryContext, adId: string): Attempt | undefined {
  const cutoff = h.machine?.reimageAfter
  for (const d of h.byAd.get(adId) ?? []) {
    const a = attemptOf(d, h)
    if (a === undefined) continue
    if (cutoff !== undefined && Date.parse(a.at) <= Date.parse(cutoff)) return undefined
    return a
  }
  return undefined
}

function attemptOf (d: Deployment, h: HistoryContext): Attempt | undefined {
  if (d.state === 'succeeded') return { deployment: d, result: 'succeeded', at: d.endedAt ?? d.updatedAt, timedOut: false }
  if (d.state === 'failed' && d.currentStep !== undefined) {
    return { deployment: d, result: 'failed', at: d.endedAt ?? d.updatedAt, timedOut: false }
  }
  if (d.state === 'running' && silentSince(d, h)) {
    const at = new Date(Date.parse(d.updatedAt) + h.timeoutMs).toISOString()
    return { deployment: d, result: 'failed', at, timedOut: true }
  }
  return undefined
}

export interface RerunVerdict {
  run: boolean
  why: string
}

/**
 * Rerun behaviour after an attempt (ConfigMgr's "rerun behavior"):
 * - never: a required advertisement runs once, success or failure, until an admin re-images the machine
 *   (otherwise a failing sequence would re-image the machine on every boot); an available one leaves the menu
 *   once it succeeded, and stays after a failure because a person chooses to retry it;
 * - ifFailed: runs again only after a failure;
 * - always: runs on every boot (kiosks, labs).
 */
export function rerunVerdict (ad: Advertisement, last: Attempt | undefined): RerunVerdict {
  if (last === undefined) return { run: true, why: 'never ran on this machine' }
  const what = `deployment ${last.deployment.id} ${last.result} at ${last.at}${last.timedOut ? ' (PE stopped reporting)' : ''}`
  switch (ad.rerun) {
    case 'always':
      return { run: true, why: `${what} and rerun=always → runs again` }
    case 'ifFailed':
      return last.result === 'failed'
        ? { run: true, why: `${what} and rerun=ifFailed → runs again` }
        : { run: false, why: `already ${what} and rerun=ifFailed → skip` }
    case 'never':
    default:
      if (ad.purpose === 'available' && last.result === 'failed') {
        return { run: true, why: `${what}; available with rerun=never stays offered for a retry` }
      }
      return { run: false, why: `already ${what} and rerun=never → skip (an admin re-image clears it)` }
  }
}
