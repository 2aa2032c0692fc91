// Builders for policy and deployment tests: a real default config from the loader, with the deployment model
// given in short form (collections and advertisements with the loader's defaults filled in).
import { loadConfigText } from '../../src/config/load.js'
import type { Advertisement, AppConfig, Collection, MachineRef, TaskSequence } from '../../src/config/schema.js'
import type { Deployment, Machine } from '../../src/store/types.js'

let base: AppConfig | undefined

export async function baseConfig (): Promise<AppConfig> {
  if (base !== undefined) return base
  const r = await loadConfigText('server:\n  address: 10.0.0.1\n', '<test>', { checkFiles: false, networkInterfaces: () => ({}) })
  if (!r.ok) throw new Error(`base config invalid: ${JSON.stringify(r.errors)}`)
  base = r.config
  return base
}

export const TS: TaskSequence[] = [
  { id: 'ts-a', name: 'Sequence A', variables: {}, steps: [{ type: 'partition', scheme: 'auto', filesystem: 'ntfs' }, { type: 'reboot' }] },
  { id: 'ts-b', variables: {}, steps: [{ type: 'reboot' }] }
]

export type ColSpec = Partial<Collection> & { id: string }
export type AdSpec = Partial<Advertisement> & { id: string, collection: string }

export interface ModelSpec {
  collections?: ColSpec[]
  advertisements?: AdSpec[]
  protected?: MachineRef[]
  taskSequences?: TaskSequence[]
  checkInTimeoutMinutes?: number
}

export function model (b: AppConfig, m: ModelSpec): AppConfig {
  return {
    ...b,
    deployment: { ...b.deployment, checkInTimeoutMinutes: m.checkInTimeoutMinutes ?? b.deployment.checkInTimeoutMinutes },
    taskSequences: m.taskSequences ?? TS,
    collections: (m.collections ?? []).map(c => ({ members: [], rules: [], ...c })),
    advertisements: (m.advertisements ?? []).map(a => ({ taskSequence: 'ts-a', purpose: 'required', rerun: 'never', ...a })),
    protected: m.protected ?? []
  }
}

export const MAC = '52:54:00:12:34:56'
export const UUID = '8c5d1a3e-0000-4000-8000-0000000000a1'
export const SERIAL = 'SN-4711'

export function machine (over: Partial<Machine> = {}): Machine {
  return { mac: MAC, firstSeen: '2026-01-01T00:00:00.000Z', lastSeen: '2026-01-01T00:00:00.000Z', ...over }
}

let seq = 0
/** A past deployment of MAC; `checkedIn` sets currentStep (the PE fetched its sequence). */
export function dep (over: Partial<Deployment> & { advertisementId: string, state: Deployment['state'] }): Deployment {
  seq++
  return {
    id: `d${String(seq).padStart(3, '0')}`,
    taskSequenceId: 'ts-a',
    mac: MAC,
    purpose: 'required',
    tokenHash: '0'.repeat(64),
    tokenExpiresAt: '2026-12-31T00:00:00.000Z',
    totalSteps: 2,
    createdAt: '2026-05-01T10:00:00.000Z',
    updatedAt: '2026-05-01T11:00:00.000Z',
    ...(over.state === 'succeeded' || over.state === 'failed' ? { endedAt: '2026-05-01T11:00:00.000Z', currentStep: 1 } : {}),
    ...(over.state === 'running' ? { currentStep: 0 } : {}),
    ...over
  }
}
