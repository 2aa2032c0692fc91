// Admin API of the image store, for `netboot images` while the daemon holds the state store. Registered by
// routes/admin.ts inside its adminAuth hook (bearer admin token, or loopback only when none is configured).
//   GET    /api/v1/images                → CatalogImage[]
//   GET    /api/v1/images/:id            → CatalogImage
//   POST   /api/v1/images                {id, path, move?} → 201 CatalogImage (a file on the appliance itself)
//   POST   /api/v1/images/:id/verify     → VerifyReport (200 also when it does not match: see `ok`)
//   DELETE /api/v1/images/:id?force=1    → RemoveResult; 409 NB_ERR_IMAGE_IN_USE when a task sequence uses it
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AppContext } from '../../service.js'
import { imageStoreFor } from '../../images/store.js'

type IdReq = FastifyRequest<{ Params: { id: string } }>

const AddSchema = {
  type: 'object',
  required: ['id', 'path'],
  additionalProperties: false,
  properties: {
    id: { type: 'string', maxLength: 64 },
    path: { type: 'string', minLength: 1, maxLength: 4096 },
    move: { type: 'boolean' }
  }
} as const

export default async function imageAdmin (app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const images = () => imageStoreFor(ctx)
  const log = ctx.log.child({ proto: 'http', part: 'image-admin' })

  app.get('/api/v1/images', async () => await images().list())
  app.get('/api/v1/images/:id', async (req: IdReq) => await images().info(req.params.id))

  app.post('/api/v1/images', { schema: { body: AddSchema } }, async (req, reply) => {
    const b = req.body as { id: string, path: string, move?: boolean }
    const e = await images().add(b.path, b.id, { move: b.move })
    log.info({ imageId: e.id, size: e.size, sha256: e.sha256 }, 'image added')
    return await reply.code(201).send(e)
  })

  app.post('/api/v1/images/:id/verify', async (req: IdReq) => {
    const r = await images().verify(req.params.id)
    if (!r.ok) log.warn({ imageId: r.id, problems: r.problems }, 'image verification failed')
    return r
  })

  app.delete('/api/v1/images/:id', async (req: IdReq) => {
    const q = req.query as { force?: string }
    const force = q.force === '1' || q.force === 'true'
    const r = await images().remove(req.params.id, { force })
    log.info({ imageId: r.id, forced: r.forced, referencedBy: r.referencedBy }, 'image removed')
    return r
  })
}
