// WIM streaming: GET|HEAD /images/:id with Range, If-Range and a strong ETag. The catalog (ctx.store.images)
// gives the file and its SHA-256; an image only named in the config's `images:` list is served by size-mtime.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AppContext } from '../../service.js'
import { FileMissingError } from '../errors.js'
import { resolveInside } from '../safe-path.js'
import { sendFile, type FileMeta } from '../send-file.js'

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export default async function imageRoutes (app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  // GET and HEAD explicitly: fastify's automatic HEAD route would read the whole stream and send length 0.
  app.route({ method: ['GET', 'HEAD'], url: '/images/:id', handler: async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const cfg = ctx.config.current()
    const id = req.params.id
    if (!ID.test(id)) throw new FileMissingError(`no image ${JSON.stringify(id)}`)
    const found = await lookup(ctx, id) ?? (id.endsWith('.wim') ? await lookup(ctx, id.slice(0, -4)) : undefined)
    if (found === undefined) throw new FileMissingError(`no image ${id} in the catalog or the config (netboot images list)`)
    const path = await resolveInside(cfg.paths.images, found.file, ` in the image store (image ${id})`)
    return await sendFile(req, reply, path, found.meta)
  } })
}

async function lookup (ctx: AppContext, id: string): Promise<{ file: string, meta: FileMeta } | undefined> {
  const entry = await ctx.store.images.get(id)
  if (entry !== undefined) {
    return { file: entry.file, meta: { etag: `"sha256-${entry.sha256}"`, sha256: entry.sha256 } }
  }
  const ref = ctx.config.current().images.find(i => i.id === id)
  return ref === undefined ? undefined : { file: ref.file, meta: {} }
}
