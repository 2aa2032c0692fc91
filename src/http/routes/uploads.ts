// Capture uploads: the PE (boot/pe/capture.sh) streams a captured WIM into the image store, resumably.
//
//   GET|HEAD /pe/v1/capture/:imageId   → 200 {offset, total?, complete}; headers Upload-Offset (bytes held),
//                                        Upload-Length; with X-Checksum-SHA256, complete=true and
//                                        Upload-Complete: 1 once that image is catalogued (a lost 201)
//   PUT /pe/v1/capture/:imageId        Content-Range: bytes START-END/TOTAL | bytes START-END/* (total unknown
//                                      yet, a WIM streamed while it is captured) | bytes */TOTAL (probe);
//                                      no Content-Range = the whole file. X-Checksum-SHA256: the client's SHA-256
//                                      of the whole WIM (required by the time the last byte arrives).
//     → 200 {offset, total, complete:false} + Upload-Offset   more to come
//     → 201 {complete:true, image}                           verified and catalogued
//     → 416 + Upload-Offset  START is past what the server holds: resume from Upload-Offset
//     → 422 NB_ERR_IMAGE_CHECKSUM / NB_ERR_WIM_*             discarded, nothing catalogued: start over
//     → 507 NB_ERR_DISK_FULL                                  no room (checked up front from TOTAL)
//     → 401 bad token, 403 a deployment without a capture step for this image, 409 image id taken
// Auth: the deployment token (peAuth of the PE API sets request.deployment) of a deployment whose task sequence
// captures this image id, or http.captureToken (capture media).
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AppContext } from '../../service.js'
import type { AppConfig } from '../../config/schema.js'
import type { Deployment } from '../../store/types.js'
import { ForbiddenError, UnauthorizedError } from '../../errors.js'
import { bearer, sameSecret } from '../auth.js'
import { imageStoreFor } from '../../images/store.js'
import { createUploads, checkSha256, type Uploads, type UploadStatus } from '../../images/upload.js'
import { parseContentRange } from '../../images/content-range.js'
import { ImageError } from '../../images/errors.js'

type Req = FastifyRequest<{ Params: { imageId: string } }>
const ROUTE = '/pe/v1/capture/:imageId'
const HOUR = 3600_000

export function uploadsDir (cfg: Pick<AppConfig, 'paths'>): string {
  return join(cfg.paths.state, 'uploads')
}

/** True when the request carries the capture-media token (http.captureToken). */
function hasCaptureToken (ctx: AppContext, req: FastifyRequest): boolean {
  const want = ctx.config.current().http.captureToken
  const got = bearer(req)
  return want !== undefined && want !== '' && got !== undefined && sameSecret(got, want)
}

/** The deployment's task sequence (in the running config) must have a capture step for this image. */
function ownerOf (ctx: AppContext, d: Deployment | undefined, imageId: string): string {
  if (d === undefined) throw new UnauthorizedError('capture upload: send "Authorization: Bearer <deployment token>" or the capture token')
  const ts = ctx.config.current().taskSequences.find(t => t.id === d.taskSequenceId)
  if (ts?.steps.some(s => s.type === 'capture' && s.image === imageId) !== true) {
    throw new ForbiddenError(`deployment ${d.id} (task sequence ${d.taskSequenceId}) has no capture step for image ${imageId}`)
  }
  return `deployment:${d.id}`
}

function answer (reply: FastifyReply, s: UploadStatus, created = false): FastifyReply {
  reply.header('upload-offset', String(s.offset)).header('cache-control', 'no-store')
  if (s.complete) reply.header('upload-complete', '1')
  if (s.total !== undefined) reply.header('upload-length', String(s.total))
  return reply.code(created ? 201 : 200).send(s)
}

async function emptyBody (): Promise<void> {}

export default async function uploadRoutes (app: FastifyInstance, { ctx }: { ctx: AppContext }): Promise<void> {
  const log = ctx.log.child({ proto: 'http', part: 'uploads' })
  let current: { key: string, uploads: Uploads } | undefined
  /** Rebuilt only if a config reload moved paths.images or paths.state. */
  const uploads = (): Uploads => {
    const cfg = ctx.config.current()
    const key = `${cfg.paths.images}\0${cfg.paths.state}`
    if (current?.key !== key) {
      const images = imageStoreFor(ctx)
      current = { key, uploads: createUploads({ dir: uploadsDir(cfg), images, clock: ctx.clock }) }
    }
    return current.uploads
  }

  // The body is the WIM: hand the raw stream to the route instead of buffering it (no bodyLimit applies).
  const passThrough = (_req: FastifyRequest, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: unknown) => void): void => { done(null, payload) }
  app.addContentTypeParser('application/octet-stream', passThrough)
  app.addContentTypeParser('*', passThrough)

  async function serve (req: Req, reply: FastifyReply, owner: string): Promise<FastifyReply> {
    const id = req.params.imageId
    const sha256 = checkSha256(req.headers['x-checksum-sha256'] as string | undefined)
    if (req.method !== 'PUT') return answer(reply, await uploads().status(id, sha256))
    const len = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length'])
    const range = parseContentRange(req.headers['content-range'], Number.isSafeInteger(len) ? len : undefined)
    if (range.start === undefined) return answer(reply, await uploads().status(id, sha256))
    const body = (req.body ?? emptyBody()) as AsyncIterable<Buffer>
    try {
      const s = await uploads().put({
        imageId: id, owner, start: range.start, total: range.total, sha256, body,
        length: range.end === undefined ? undefined : range.end - range.start + 1,
        cancel: () => { req.raw.destroy() }
      })
      if (s.complete) log.info({ imageId: id, owner, size: s.offset, sha256: s.image?.sha256 }, 'capture upload complete: image catalogued')
      return answer(reply, s, s.complete)
    } catch (err) {
      if (req.raw.destroyed || req.raw.readableAborted) {
        // The connection dropped mid-body: what arrived is kept for the client's resume. Nobody to answer.
        log.info({ imageId: id, owner, err: (err as Error).message }, 'capture upload interrupted; kept for resume')
        return reply.hijack()
      }
      if (err instanceof ImageError && err.code === 'NB_ERR_UPLOAD_RANGE') {
        const s = await uploads().status(id).catch(() => undefined)
        if (s !== undefined) reply.header('upload-offset', String(s.offset))
      }
      throw err
    }
  }

  // Capture media carry no deployment: their token is checked here, before the PE API's deployment auth
  // (a preHandler of the parent plugin), and such requests are answered from this hook.
  app.addHook('preValidation', async (req, reply) => {
    if (!hasCaptureToken(ctx, req)) return
    await serve(req as Req, reply, 'capture-token')
    return reply
  })

  const handler = async (req: Req, reply: FastifyReply): Promise<FastifyReply> =>
    await serve(req, reply, ownerOf(ctx, req.deployment, req.params.imageId))
  app.get(ROUTE, handler)
  app.put(ROUTE, handler)

  // Abandoned uploads: swept at start and hourly (http.uploadExpiryHours, default 24); image-store temp files too.
  const sweep = async (): Promise<void> => {
    const ttl = (ctx.config.current().http.uploadExpiryHours ?? 24) * HOUR
    const gone = await uploads().sweep(ttl).catch((err: unknown) => { log.warn({ err }, 'upload sweep failed'); return [] })
    if (gone.length > 0) log.info({ imageIds: gone }, 'abandoned capture uploads deleted')
    // Temp files an interrupted `images add` (a crash between copy and rename) left in the image store.
    const temps = await imageStoreFor(ctx).sweep(HOUR).catch(() => [])
    if (temps.length > 0) log.info({ files: temps }, 'leftover temp files deleted from the image store')
  }
  let timer: NodeJS.Timeout | undefined
  app.addHook('onReady', async () => {
    await sweep()
    timer = setInterval(() => { void sweep() }, HOUR)
    timer.unref()
  })
  app.addHook('onClose', async () => { if (timer !== undefined) clearInterval(timer) })
}
