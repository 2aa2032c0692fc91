// iPXE-facing routes: the entry script, the decision, the PXE-password-protected menu and the menu choice.
// Whatever happens, iPXE gets a script it can run (status 200): a store or policy failure becomes "print the
// error, wait, start over" instead of a 500 that iPXE would only show as an error number.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AppConfig } from '../../config/schema.js'
import type { AppContext } from '../../service.js'
import type { BootDecision } from '../../policy/decision.js'
import type { ClientIdentity } from '../../policy/types.js'
import type { Machine, MachineSighting } from '../../store/types.js'
import { render, type ScriptView } from '../../ipxe/script.js'
import { archFrom, clientFrom, first, sightingFrom, type IdentityQuery, type QueryValue } from '../identity.js'
import type { HttpDeps, PolicyInput } from '../deps.js'
import { safeUrl } from '../log-url.js'

type Query = IdentityQuery & { adv?: QueryValue, password?: QueryValue }

export interface BootRouteOptions { ctx: AppContext, deps: HttpDeps }

export default async function bootRoutes (app: FastifyInstance, { ctx, deps }: BootRouteOptions): Promise<void> {
  const log = ctx.log.child({ proto: 'http', part: 'boot' })

  app.get('/boot.ipxe', async (_req, reply) => script(reply, { kind: 'entry', baseUrl: ctx.config.current().httpBaseUrl }))

  /** Identity from iPXE's variables (see the entry script) → sighting → policy → script. */
  app.get('/boot/decide', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    return await handle(req, reply, async (cfg, sighting) => {
      const input = await policyInput(cfg, sighting)
      return await respond(cfg, input, deps.policy.decide(input), false)
    })
  })

  /** The PXE password was typed: check it here (never in the script), then show the menu. */
  app.get('/boot/menu', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    return await handle(req, reply, async (cfg, sighting) => {
      const input = await policyInput(cfg, sighting)
      if (!passwordOk(cfg, first(req.query.password))) return refused(input.client, 'wrong PXE password')
      return await respond(cfg, input, deps.policy.decide(input), true)
    })
  })

  /** A menu item was chosen: deploy it only if the policy offers it to this machine now. */
  app.get('/boot/select', async (req: FastifyRequest<{ Querystring: Query }>, reply) => {
    return await handle(req, reply, async (cfg, sighting) => {
      const input = await policyInput(cfg, sighting)
      if (!passwordOk(cfg, first(req.query.password))) return refused(input.client, 'wrong PXE password')
      const adv = first(req.query.adv) ?? ''
      const d = deps.policy.chooseFromMenu(input, adv)
      if (d.kind !== 'deploy') return refused(input.client, d.kind === 'local' ? d.reason : `advertisement ${adv} is not offered`)
      return await respond(cfg, input, d, true)
    })
  })

  async function handle (req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply,
    fn: (cfg: AppConfig, s: MachineSighting) => Promise<ScriptView>): Promise<FastifyReply> {
    const cfg = ctx.config.current()
    const q = req.query ?? {}
    let sighting: MachineSighting
    try {
      sighting = { ...sightingFrom(q), ip: req.ip }
    } catch (err) {
      log.info({ url: safeUrl(req.url) }, 'boot request without a usable MAC')
      return script(reply, { kind: 'refused', arch: archFrom(q.platform, q.buildarch) ?? 'bios', message: (err as Error).message })
    }
    try {
      return script(reply, await fn(cfg, sighting))
    } catch (err) {
      log.warn({ err, mac: sighting.mac }, 'boot decision failed; the client retries')
      return script(reply, { kind: 'retry', baseUrl: cfg.httpBaseUrl, message: 'the appliance could not decide (see its log)' })
    }
  }

  async function policyInput (cfg: AppConfig, sighting: MachineSighting): Promise<PolicyInput> {
    const now = ctx.clock.now()
    const machine: Machine = await ctx.store.machines.recordSighting(sighting, now)
    const history = await ctx.store.deployments.listByMachine(machine.mac)
    return { config: cfg, client: clientFrom(machine), machine, history, now }
  }

  async function respond (cfg: AppConfig, input: PolicyInput, d: BootDecision, passwordChecked: boolean): Promise<ScriptView> {
    const { client } = input
    const baseUrl = cfg.httpBaseUrl
    log.debug({ mac: client.mac, kind: d.kind, trace: d.trace }, 'boot decision')
    switch (d.kind) {
      case 'local':
        return { kind: 'local', arch: client.arch, reason: d.reason }
      case 'deploy': {
        const { deployment, token } = await deps.deployments.begin(client, d)
        const winpe = cfg.paths.winpe !== undefined && d.taskSequence.variables?.PE?.toLowerCase() === 'winpe'
        log.info({ mac: client.mac, deployment: deployment.id, advertisement: d.advertisement.id }, 'deployment begins')
        const title = d.taskSequence.name ?? d.taskSequence.id
        return { kind: winpe ? 'deploy-winpe' : 'deploy', baseUrl, arch: client.arch, deploymentId: deployment.id, token, title }
      }
      case 'menu': {
        if (d.items.length === 0) return { kind: 'local', arch: client.arch, reason: 'no deployment offered' }
        const withPassword = cfg.http.pxePassword !== undefined
        if (withPassword && !passwordChecked) return { kind: 'login', baseUrl, arch: client.arch, mac: client.mac }
        const items = d.items.map(i => ({ id: i.advertisement.id, label: i.taskSequence.name ?? i.taskSequence.id }))
        return { kind: 'menu', baseUrl, arch: client.arch, mac: client.mac, items, timeoutMs: cfg.http.menuTimeoutSeconds * 1000, withPassword }
      }
    }
  }
}

function refused (client: ClientIdentity, message: string): ScriptView {
  return { kind: 'refused', arch: client.arch, message }
}

/** Constant-time comparison of digests, so the answer time says nothing about the password. */
function passwordOk (cfg: AppConfig, given: string | undefined): boolean {
  const want = cfg.http.pxePassword
  if (want === undefined) return true
  const h = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(want), h(given ?? ''))
}

function script (reply: FastifyReply, view: ScriptView): FastifyReply {
  return reply.code(200).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(render(view))
}

