// iPXE-facing routes: the entry script, the decision, the PXE-password-protected menu and the menu choice.
// Whatever happens, iPXE gets a script it can run (status 200): a store or policy failure becomes "print the
// error, wait, start over" instead of a 500 that iPXE would only show as an error number.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AppConfig } from '../../config/schema.js'
import type { AppContext } from '../../service.js'
import type { MachineSighting } from '../../store/types.js'
import { render, type ScriptView } from '../../ipxe/script.js'
import { archFrom, first, sightingFrom, type IdentityQuery, type QueryValue } from '../identity.js'
import type { HttpDeps } from '../deps.js'
import { safeUrl } from '../log-url.js'
import { bootFlow, passwordOk, refused } from '../boot-flow.js'

type Req = FastifyRequest<{ Querystring: IdentityQuery & { adv?: QueryValue, password?: QueryValue } }>

export interface BootRouteOptions { ctx: AppContext, deps: HttpDeps }

export default async function bootRoutes (app: FastifyInstance, { ctx, deps }: BootRouteOptions): Promise<void> {
  const log = ctx.log.child({ proto: 'http', part: 'boot' })
  const flow = bootFlow(ctx, deps, log)

  app.get('/boot.ipxe', async (_req, reply) => script(reply, { kind: 'entry', baseUrl: ctx.config.current().httpBaseUrl }))

  /** Identity from iPXE's variables (see the entry script) → sighting → policy → script. */
  app.get('/boot/decide', async (req: Req, reply) => await handle(req, reply, async (cfg, sighting) => {
    const input = await flow.input(cfg, sighting)
    return await flow.respond(cfg, input, deps.policy.decide(input), false)
  }))

  /** The PXE password was typed: check it here (never in the script), then show the menu. */
  app.get('/boot/menu', async (req: Req, reply) => await handle(req, reply, async (cfg, sighting) => {
    const input = await flow.input(cfg, sighting)
    if (!passwordOk(cfg, first(req.query.password))) return refused(input.client, 'wrong PXE password')
    return await flow.respond(cfg, input, deps.policy.decide(input), true)
  }))

  /** A menu item was chosen: deploy it only if the policy offers it to this machine now. */
  app.get('/boot/select', async (req: Req, reply) => await handle(req, reply, async (cfg, sighting) => {
    const input = await flow.input(cfg, sighting)
    if (!passwordOk(cfg, first(req.query.password))) return refused(input.client, 'wrong PXE password')
    const adv = first(req.query.adv) ?? ''
    const d = deps.policy.chooseFromMenu(input, adv)
    if (d.kind !== 'deploy') return refused(input.client, d.kind === 'local' ? d.reason : `advertisement ${adv} is not offered`)
    return await flow.respond(cfg, input, d, true)
  }))

  /** Parse the identity (a bad MAC is refused), run `fn`, and turn any failure into the retry script. */
  async function handle (req: Req, reply: FastifyReply, fn: (cfg: AppConfig, s: MachineSighting) => Promise<ScriptView>): Promise<FastifyReply> {
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
}

function script (reply: FastifyReply, view: ScriptView): FastifyReply {
  return reply.code(200).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(render(view))
}
