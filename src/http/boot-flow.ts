// From a boot request to the script view: record the sighting, ask the policy, begin a deployment when it says
// deploy. No fastify here: routes/boot.ts turns the view into the reply.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AppConfig } from '../config/schema.js'
import type { AppContext } from '../service.js'
import type { BootDecision } from '../policy/decision.js'
import type { ClientIdentity } from '../policy/types.js'
import type { Logger } from '../log.js'
import type { Machine, MachineSighting } from '../store/types.js'
import type { ScriptView } from '../ipxe/script.js'
import { peForDeployment, type ScriptLoader } from '../pe/availability.js'
import { clientFrom } from './identity.js'
import type { HttpDeps, PolicyInput } from './deps.js'

export interface BootFlow {
  /** Record the sighting and gather what the policy needs (the stored machine and its deployments). */
  input (cfg: AppConfig, sighting: MachineSighting): Promise<PolicyInput>
  /** The script view of a decision; `passwordChecked` once the PXE password was verified. */
  respond (cfg: AppConfig, input: PolicyInput, d: BootDecision, passwordChecked: boolean, loader?: ScriptLoader): Promise<ScriptView>
}

export function bootFlow (ctx: AppContext, deps: HttpDeps, log: Logger): BootFlow {
  return {
    async input (cfg, sighting) {
      const now = ctx.clock.now()
      const machine: Machine = await ctx.store.machines.recordSighting(sighting, now)
      const history = await ctx.store.deployments.listByMachine(machine.mac)
      return { config: cfg, client: clientFrom(machine), machine, history, now }
    },

    async respond (cfg, input, d, passwordChecked, loader = 'ipxe') {
      const { client } = input
      const baseUrl = cfg.httpBaseUrl
      log.debug({ mac: client.mac, kind: d.kind, trace: d.trace }, 'boot decision')
      switch (d.kind) {
        case 'local':
          return { kind: 'local', baseUrl, arch: client.arch, reason: d.reason }
        case 'deploy': {
          const pe = await peForDeployment(cfg, client.arch, d.taskSequence, loader)
          if ('missing' in pe) {
            // Beginning a deployment this machine cannot boot would only leave it looping on "could not boot the
            // PE" until the check-in timeout failed it: say why, boot the local disk, and begin nothing.
            log.warn({ mac: client.mac, arch: client.arch, advertisement: d.advertisement.id, detail: pe.detail }, `deployment not started: ${pe.missing}`)
            return refused(cfg, client, pe.missing)
          }
          const { deployment, token } = await deps.deployments.begin(client, d)
          log.info({ mac: client.mac, deployment: deployment.id, advertisement: d.advertisement.id }, 'deployment begins')
          const title = d.taskSequence.name ?? d.taskSequence.id
          const common = { baseUrl, arch: client.arch, deploymentId: deployment.id, token, title }
          return pe.arch === 'winpe' ? { kind: 'deploy-winpe', ...common } : { kind: 'deploy', ...common, pe: pe.arch }
        }
        case 'menu':
          return await menuView(cfg, client, d, passwordChecked, loader)
      }
    }
  }
}

async function menuView (cfg: AppConfig, client: ClientIdentity, d: Extract<BootDecision, { kind: 'menu' }>, passwordChecked: boolean, loader: ScriptLoader): Promise<ScriptView> {
  const baseUrl = cfg.httpBaseUrl
  if (d.items.length === 0) return { kind: 'local', baseUrl, arch: client.arch, reason: 'no deployment offered' }
  const withPassword = cfg.http.pxePassword !== undefined
  if (withPassword && !passwordChecked) return { kind: 'login', baseUrl, arch: client.arch, mac: client.mac }
  // An advertisement this machine could not start (no PE for its architecture) is listed as text, with the reason,
  // rather than offered and then refused; choosing it by URL is still refused by respond().
  const items = await Promise.all(d.items.map(async i => {
    const pe = await peForDeployment(cfg, client.arch, i.taskSequence, loader)
    const item = { id: i.advertisement.id, label: i.taskSequence.name ?? i.taskSequence.id }
    return 'missing' in pe ? { ...item, unavailable: pe.missing } : item
  }))
  return { kind: 'menu', baseUrl, arch: client.arch, mac: client.mac, items, timeoutMs: cfg.http.menuTimeoutSeconds * 1000, withPassword }
}

export function refused (cfg: AppConfig, client: ClientIdentity, message: string): ScriptView {
  return { kind: 'refused', baseUrl: cfg.httpBaseUrl, arch: client.arch, message }
}

/** Constant-time comparison of digests, so the answer time says nothing about the PXE password. */
export function passwordOk (cfg: AppConfig, given: string | undefined): boolean {
  const want = cfg.http.pxePassword
  if (want === undefined) return true
  const h = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(want), h(given ?? ''))
}
