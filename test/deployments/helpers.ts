// A deployments service on a real store with a fixed clock, and the deploy decision the policy would give.
import { createDeployments } from '../../src/deployments/deployments.js'
import { staticConfig } from '../../src/config/holder.js'
import { createMemoryStore } from '../../src/store/index.js'
import { silentLogger } from '../../src/log.js'
import { fixedClock } from '../../src/clock.js'
import { decide } from '../../src/policy/decide.js'
import type { AppConfig, TaskSequence } from '../../src/config/schema.js'
import type { Store } from '../../src/store/types.js'
import type { AppContext } from '../../src/service.js'
import type { ClientIdentity } from '../../src/policy/types.js'
import type { DeployDecision } from '../../src/deployments/deployments.js'
import { baseConfig, MAC, model } from '../policy/helpers.js'

export const T0 = '2026-06-01T12:00:00.000Z'
export const BASE_URL = 'http://10.0.0.1:8080'
export const client: ClientIdentity = { mac: MAC, arch: 'efi-x64' }
export const other: ClientIdentity = { mac: '52:54:00:00:00:02', arch: 'bios' }

export const WIN: TaskSequence = {
  id: 'win11',
  name: 'Windows 11 — wipe and load',
  variables: { OSDComputerName: 'PC-${SERIAL}', ORG: 'Example', GREETING: 'hello ${ORG} from ${OSDComputerName}', SHELLY: '${NOT_A_VAR}' },
  steps: [
    { type: 'partition', scheme: 'auto', filesystem: 'ntfs' },
    { type: 'applyImage', image: 'win11-ent', index: 3 },
    { type: 'applyFiles', source: 'drivers/dell latitude', destination: '/Windows/INF' },
    { type: 'setComputerName', computerName: '${OSDComputerName}-${serial}' },
    { type: 'runCommand', command: 'echo ${TARGET} > $TARGET/x' },
    { type: 'capture', image: 'gold', volume: 'auto', compression: 'lzx' },
    { type: 'reboot' }
  ]
}

export async function testConfig (over: Partial<AppConfig['deployment']> = {}): Promise<AppConfig> {
  const b = await baseConfig()
  const m = model(b, {
    taskSequences: [WIN, { id: 'short', variables: {}, steps: [{ type: 'reboot' }, { type: 'reboot' }] }],
    collections: [{ id: 'lab', rules: [{ macPrefix: '52:54:00' }] }],
    advertisements: [
      { id: 'win11-required', collection: 'lab', taskSequence: 'win11', purpose: 'required' },
      { id: 'short-available', collection: 'lab', taskSequence: 'short', purpose: 'available' }
    ]
  })
  return { ...m, deployment: { ...m.deployment, checkInTimeoutMinutes: 30, tokenTtlMinutes: 120, ...over } }
}

export async function setup (opts: { store?: Store, over?: Partial<AppConfig['deployment']> } = {}) {
  const config = await testConfig(opts.over)
  const clock = fixedClock(T0)
  const store = opts.store ?? createMemoryStore()
  const ctx: AppContext = { config: staticConfig(config), store, log: silentLogger, clock }
  return { ctx, config, clock, store, deployments: createDeployments(ctx) }
}

/** The policy's own deploy decision for the advertisement (required one by default). */
export function decision (config: AppConfig, adId = 'win11-required'): DeployDecision {
  const ad = config.advertisements.find(a => a.id === adId)
  const ts = config.taskSequences.find(x => x.id === ad?.taskSequence)
  if (ad === undefined || ts === undefined) throw new Error(`no advertisement ${adId}`)
  const d = decide({ config, client, history: [], now: new Date(T0) })
  if (d.kind === 'deploy' && d.advertisement.id === adId) return d
  return { kind: 'deploy', advertisement: ad, taskSequence: ts, trace: [] }
}
