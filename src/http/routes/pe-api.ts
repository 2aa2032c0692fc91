// The PE API: what the task-sequence runner inside the PE calls (boot/pe/). Every route needs the deployment
// token as a bearer token; it selects the deployment, so no URL carries a deployment id.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { AppContext } from '../../service.js'
import type { Deployment } from '../../store/types.js'
import type { DeploymentResult, StepStatus } from '../../deployments/types.js'
import { UnauthorizedError } from '../../errors.js'
import type { HttpDeps } from '../deps.js'
import { bearer, peAuth } from '../auth.js'
import uploads from './uploads.js'

/** A PE log upload is at most this big; the runner sends its log in pieces. */
export const LOG_BODY_LIMIT = 1024 * 1024

const StepStatusSchema = {
  type: 'object',
  required: ['step', 'state'],
  additionalProperties: false,
  properties: {
    step: { type: 'integer', minimum: 0, maximum: 9999 },
    state: { type: 'string', enum: ['start', 'progress', 'end', 'error'] },
    progress: { type: 'number', minimum: 0, maximum: 100 },
    message: { type: 'string', maxLength: 65536 }
  }
} as const

const ResultSchema = {
  type: 'object',
  required: ['result'],
  additionalProperties: false,
  properties: {
    result: { type: 'string', enum: ['succeeded', 'failed'] },
    error: { type: 'string', maxLength: 65536 },
    logTail: { type: 'string' }                  // bounded by the body limit; the deployments service keeps its tail
  }
} as const

export default async function peApi (app: FastifyInstance, { ctx, deps }: { ctx: AppContext, deps: HttpDeps }): Promise<void> {
  app.addHook('preHandler', peAuth(deps.deployments))
  const dep = (req: FastifyRequest): Deployment => {
    if (req.deployment === undefined) throw new UnauthorizedError('PE API: not authenticated')
    return req.deployment
  }

  app.get('/pe/v1/task-sequence', async (req) => {
    return await deps.deployments.resolveTaskSequence(dep(req), ctx.config.current().httpBaseUrl)
  })

  app.post('/pe/v1/status', { schema: { body: StepStatusSchema } }, async (req, reply) => {
    await deps.deployments.reportStatus(dep(req), req.body as StepStatus)
    return await reply.code(204).send()
  })

  app.post('/pe/v1/log', { bodyLimit: LOG_BODY_LIMIT }, async (req, reply) => {
    if (typeof req.body !== 'string') {
      return await reply.code(415).send({ code: 'NB_ERR_BAD_REQUEST', message: 'send the log as text/plain' })
    }
    await deps.deployments.appendLog(dep(req), req.body)
    return await reply.code(204).send()
  })

  app.post('/pe/v1/result', { schema: { body: ResultSchema } }, async (req, reply) => {
    await deps.deployments.finish(dep(req), req.body as DeploymentResult)
    return await reply.code(204).send()
  })

  /**
   * The runner's settings for WinPE, which wimboot injects as X:\Windows\System32\netboot.ini. Fetched by
   * iPXE, which cannot send headers: the token rides in the query (the same token is on the script's lines).
   */
  app.get('/pe/v1/winpe/netboot.ini', { config: { queryToken: true } }, async (req, reply) => {
    const d = dep(req)
    const token = bearer(req) ?? (req.query as { token: string }).token
    const ini = ['[netboot]', `url=${ctx.config.current().httpBaseUrl}`, `deployment=${d.id}`, `token=${token}`, ''].join('\r\n')
    return await reply.header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send(ini)
  })

  // The image-store colleague's capture upload (/pe/v1/capture…): authenticated here, request.deployment set.
  await app.register(uploads, { ctx })
}
