// The HTTP app: fastify built apart from listen() (tests use app.inject()). Routes read ctx.config.current()
// per request, so a config reload applies to the next request. Errors answer JSON {code, message}.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import type { AppContext } from '../service.js'
import { NetbootError } from '../errors.js'
import type { HttpDeps } from './deps.js'
import { safeUrl } from './log-url.js'
import { registerGrubQuirks } from './grub-client.js'
import { defaultDeps } from './defaults.js'
import bootRoutes from './routes/boot.js'
import fileRoutes from './routes/files.js'
import imageRoutes from './routes/images.js'
import peApi from './routes/pe-api.js'
import adminApi from './routes/admin.js'

export async function buildHttpApp (ctx: AppContext, deps?: Partial<HttpDeps>): Promise<FastifyInstance> {
  const log = ctx.log.child({ proto: 'http' })
  const all: HttpDeps = { ...defaultDeps(ctx), ...deps }
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // one line per request at debug (onResponse below); errors at info (4xx) or error (5xx) by the handler
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true
  })

  registerGrubQuirks(app)

  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: safeUrl(req.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request')
  })

  app.setErrorHandler((err: FastifyError | NetbootError, req, reply) => {
    const { status, code, message } = describe(err)
    if (status >= 500) req.log.error({ err, url: safeUrl(req.url) }, 'request failed')
    else req.log.info({ code, url: safeUrl(req.url), status }, message)
    return reply.code(status).send({ code, message })
  })

  app.setNotFoundHandler((req, reply) => {
    return reply.code(404).send({ code: 'NB_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` })
  })

  const health = async () => ({ ok: true, config: ctx.config.status().ok, time: ctx.clock.now().toISOString() })
  app.get('/healthz', health)
  app.get('/api/v1/healthz', health)

  await app.register(bootRoutes, { ctx, deps: all })
  await app.register(fileRoutes, { ctx })
  await app.register(imageRoutes, { ctx })
  await app.register(peApi, { ctx, deps: all })
  await app.register(adminApi, { ctx, deps: all })
  return app
}

/** Status, stable code and message of anything a route threw. */
function describe (err: FastifyError | NetbootError): { status: number, code: string, message: string } {
  if (err instanceof NetbootError) return { status: err.statusCode, code: err.code, message: err.message }
  const fe = err as FastifyError
  if (fe.validation !== undefined) {
    return { status: 400, code: 'NB_ERR_BAD_REQUEST', message: `invalid ${fe.validationContext ?? 'request'}: ${fe.message}` }
  }
  const status = typeof fe.statusCode === 'number' && fe.statusCode >= 400 ? fe.statusCode : 500
  if (status < 500) return { status, code: fe.code ?? 'NB_ERR_BAD_REQUEST', message: fe.message }
  return { status, code: 'NB_ERR_INTERNAL', message: 'internal error (see the appliance log)' }
}
