// The admin API (/api/v1): machines, deployments, config status and whatif, for `netboot machines|deployments`
// and monitoring. Behind adminAuth (bearer token, or loopback only when none is configured).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AppContext } from '../../service.js'
import { normalizeMac, normalizeUuid } from '../../config/ids.js'
import { ARCHES, type Arch } from '../../config/schema.js'
import { deployBlocked } from '../../pe/availability.js'
import { BadRequestError, NotFoundError } from '../../errors.js'
import type { ClientIdentity } from '../../policy/types.js'
import type { Deployment } from '../../store/types.js'
import type { HttpDeps } from '../deps.js'
import { adminAuth } from '../auth.js'
import { first, type QueryValue } from '../identity.js'
import imageAdmin from './image-admin.js'

type MacReq = FastifyRequest<{ Params: { mac: string } }>
type IdReq = FastifyRequest<{ Params: { id: string } }>

/** A deployment as the admin API shows it: without the token's hash (it proves nothing, but it is nobody's business). */
function shown (d: Deployment): Omit<Deployment, 'tokenHash'> {
  const { tokenHash: _hidden, ...rest } = d
  return rest
}

function macParam (v: string): string {
  const mac = normalizeMac(v)
  if (mac === undefined) throw new BadRequestError(`not a MAC address: ${JSON.stringify(v)}`)
  return mac
}

export default async function adminApi (app: FastifyInstance, { ctx, deps }: { ctx: AppContext, deps: HttpDeps }): Promise<void> {
  app.addHook('onRequest', adminAuth(ctx))
  const machine = async (mac: string) => {
    const m = await ctx.store.machines.get(mac)
    if (m === undefined) throw new NotFoundError(`no machine ${mac} in the inventory (it has not booted from the network yet)`)
    return m
  }
  const deployment = async (id: string) => {
    const d = await deps.deployments.get(id)
    if (d === undefined) throw new NotFoundError(`no deployment ${id}`)
    return d
  }

  app.get('/api/v1/machines', async () => await ctx.store.machines.list())
  app.get('/api/v1/machines/:mac', async (req: MacReq) => await machine(macParam(req.params.mac)))

  app.post('/api/v1/machines/:mac/reimage', async (req: MacReq) => {
    const mac = macParam(req.params.mac)
    await machine(mac)
    await deps.deployments.reimage(mac)
    return await machine(mac)
  })

  app.post('/api/v1/machines/:mac/protect', {
    schema: { body: { type: 'object', required: ['protected'], additionalProperties: false, properties: { protected: { type: 'boolean' } } } }
  }, async (req: MacReq) => {
    const mac = macParam(req.params.mac)
    await machine(mac)
    await deps.deployments.protect(mac, (req.body as { protected: boolean }).protected)
    return await machine(mac)
  })

  app.get('/api/v1/deployments', async () => (await deps.deployments.list()).map(shown))
  app.get('/api/v1/deployments/:id', async (req: IdReq) => shown(await deployment(req.params.id)))
  app.get('/api/v1/deployments/:id/events', async (req: IdReq) => {
    await deployment(req.params.id)
    return await deps.deployments.events(req.params.id)
  })

  app.get('/api/v1/config', async () => ctx.config.status())

  app.get('/api/v1/whatif', async (req: FastifyRequest<{ Querystring: Record<string, QueryValue> }>) => {
    const q = Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, first(v)]))
    const mac = macParam(q.mac ?? '')
    const stored = await ctx.store.machines.get(mac)
    const client = whatifClient(mac, q, stored?.arch)
    const history = await ctx.store.deployments.listByMachine(mac)
    const cfg = ctx.config.current()
    const e = deps.policy.explain({ config: cfg, client, machine: stored, history, now: ctx.clock.now() })
    // A deploy decision that the boot route would refuse (no PE for this machine): say so beside the decision.
    const blocked = await deployBlocked(cfg, client.arch, e.decision)
    return blocked === undefined ? e : { ...e, blocked }
  })

  // The image-store colleague's routes (/api/v1/images…), behind the same admin check.
  await app.register(imageAdmin, { ctx })
}

/** The client a whatif asks about: what the query says, the stored arch, else BIOS. */
function whatifClient (mac: string, q: Record<string, string | undefined>, storedArch: Arch | undefined): ClientIdentity {
  if (q.arch !== undefined && !(ARCHES as readonly string[]).includes(q.arch)) {
    throw new BadRequestError(`arch must be one of ${ARCHES.join(', ')}`)
  }
  const c: ClientIdentity = { mac, arch: (q.arch as Arch | undefined) ?? storedArch ?? 'bios' }
  if (q.uuid !== undefined && q.uuid !== '') {
    const uuid = normalizeUuid(q.uuid)
    if (uuid === undefined) throw new BadRequestError(`not an SMBIOS UUID: ${JSON.stringify(q.uuid)}`)
    c.uuid = uuid
  }
  for (const k of ['serial', 'manufacturer', 'product'] as const) {
    if (q[k] !== undefined && q[k] !== '') c[k] = q[k]
  }
  return c
}
