// iPXE- and GRUB-facing routes: the entry script, the decision, the PXE-password-protected menu and the menu choice.
// Whatever happens, the loader gets a script it can run (status 200): a store or policy failure becomes "print the
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
import type { ScriptLoader } from '../../pe/availability.js'
import { GRUB_BOOT_PREFIX, renderGrub } from '../../grub/script.js'
import { GRUB_ENTRY_PATHS } from '../../secureboot/files.js'

type Req = FastifyRequest<{ Querystring: IdentityQuery & { adv?: QueryValue, password?: QueryValue } }>

export interface BootRouteOptions { ctx: AppContext, deps: HttpDeps }

export default async function bootRoutes (app: FastifyInstance, { ctx, deps }: BootRouteOptions): Promise<void> {
  const log = ctx.log.child({ proto: 'http', part: 'boot' })
  const flow = bootFlow(ctx, deps, log)

  app.get('/boot.ipxe', async (_req, reply) => script(reply, 'ipxe', { kind: 'entry', baseUrl: ctx.config.current().httpBaseUrl }))
  // GRUB of the Secure Boot chain reads $prefix/grub.cfg from the server it booted from (TFTP or HTTP; 2.06's
  // image tries x86_64-efi/grub.cfg first): both are the entry config.
  for (const path of GRUB_ENTRY_PATHS) {
    app.get(`/${path}`, async (_req, reply) => script(reply, 'grub', { kind: 'entry', baseUrl: ctx.config.current().httpBaseUrl }))
  }

  // The same three routes for iPXE (/boot/…) and for GRUB (/boot/grub/…): one decision, two script languages.
  for (const [prefix, loader] of [['/boot', 'ipxe'], [GRUB_BOOT_PREFIX, 'grub']] as const) {
    /** Identity from the loader's variables (see the entry script) → sighting → policy → script. */
    app.get(`${prefix}/decide`, async (req: Req, reply) => await handle(req, reply, loader, async (cfg, sighting) => {
      const input = await flow.input(cfg, sighting)
      return await flow.respond(cfg, input, deps.policy.decide(input), false, loader)
    }))

    /** The PXE password was typed: check it here (never in the script), then show the menu. */
    app.get(`${prefix}/menu`, async (req: Req, reply) => await handle(req, reply, loader, async (cfg, sighting) => {
      const input = await flow.input(cfg, sighting)
      if (!passwordOk(cfg, first(req.query.password))) return refused(cfg, input.client, 'wrong PXE password')
      return await flow.respond(cfg, input, deps.policy.decide(input), true, loader)
    }))

    /** A menu item was chosen: deploy it only if the policy offers it to this machine now. */
    app.get(`${prefix}/select`, async (req: Req, reply) => await handle(req, reply, loader, async (cfg, sighting) => {
      const input = await flow.input(cfg, sighting)
      if (!passwordOk(cfg, first(req.query.password))) return refused(cfg, input.client, 'wrong PXE password')
      const adv = first(req.query.adv) ?? ''
      const d = deps.policy.chooseFromMenu(input, adv)
      if (d.kind !== 'deploy') return refused(cfg, input.client, d.kind === 'local' ? d.reason : `advertisement ${adv} is not offered`)
      return await flow.respond(cfg, input, d, true, loader)
    }))
  }

  /** Parse the identity (a bad MAC is refused), run `fn`, and turn any failure into the retry script. */
  async function handle (req: Req, reply: FastifyReply, loader: ScriptLoader, fn: (cfg: AppConfig, s: MachineSighting) => Promise<ScriptView>): Promise<FastifyReply> {
    const cfg = ctx.config.current()
    const q = req.query ?? {}
    let sighting: MachineSighting
    try {
      sighting = { ...sightingFrom(q), ip: req.ip }
    } catch (err) {
      log.info({ url: safeUrl(req.url) }, 'boot request without a usable MAC')
      return script(reply, loader, { kind: 'refused', baseUrl: cfg.httpBaseUrl, arch: archFrom(q.platform, q.buildarch) ?? 'bios', message: (err as Error).message })
    }
    try {
      return script(reply, loader, await fn(cfg, sighting))
    } catch (err) {
      log.warn({ err, mac: sighting.mac }, 'boot decision failed; the client retries')
      return script(reply, loader, { kind: 'retry', baseUrl: cfg.httpBaseUrl, message: 'the appliance could not decide (see its log)' })
    }
  }
}

function script (reply: FastifyReply, loader: ScriptLoader, view: ScriptView): FastifyReply {
  const text = loader === 'grub' ? renderGrub(view) : render(view)
  return reply.code(200).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(text)
}
