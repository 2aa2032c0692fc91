// The deployment state machine, pure:
//   advertised → booting → running (step i of n) → succeeded | failed
// A deployment may fail from any live state (PXE retried and superseded it, the PE went silent, the PE reported
// an error before it fetched its sequence); it succeeds only from running; an ended one never moves again.
import { ConflictError } from '../errors.js'
import type { DeploymentState } from '../store/types.js'

export const LEGAL_TRANSITIONS: Readonly<Record<DeploymentState, readonly DeploymentState[]>> = {
  advertised: ['booting', 'failed'],
  booting: ['running', 'failed'],
  running: ['running', 'succeeded', 'failed'],
  succeeded: [],
  failed: []
}

export const ENDED: readonly DeploymentState[] = ['succeeded', 'failed']
export const LIVE: readonly DeploymentState[] = ['advertised', 'booting', 'running']

export function isEnded (s: DeploymentState): boolean {
  return ENDED.includes(s)
}

export function canTransition (from: DeploymentState, to: DeploymentState): boolean {
  return LEGAL_TRANSITIONS[from].includes(to)
}

/** Throws ConflictError (409) naming both states when `from → to` is not a legal move. */
export function assertTransition (id: string, from: DeploymentState, to: DeploymentState): void {
  if (canTransition(from, to)) return
  if (isEnded(from)) throw new ConflictError(`deployment ${id} already ${from}: it cannot become ${to}`)
  const hint = from === 'booting' && to !== 'failed'
    ? ' (the PE must fetch its task sequence first)'
    : from === 'advertised' ? ' (it has not booted yet)' : ''
  throw new ConflictError(`deployment ${id} is ${from}: it cannot become ${to}${hint}`)
}
