// The HTTP service: binds ports.http on server.bind. Undefined when http.enabled is false.
import type { FastifyInstance } from 'fastify'
import type { AppContext, Service } from '../service.js'
import { BindError } from '../errors.js'
import type { HttpDeps } from './deps.js'
import { buildHttpApp } from './app.js'

export interface HttpService extends Service {
  /** the port actually bound (differs from config when it says 0) */
  port (): number
}

export function createService (ctx: AppContext, deps?: Partial<HttpDeps>): HttpService | undefined {
  const cfg = ctx.config.current()
  if (!cfg.http.enabled) return undefined
  let app: FastifyInstance | undefined
  let bound = 0
  return {
    name: 'http',
    port: () => bound,
    async start () {
      const { bind } = cfg.server
      const port = cfg.ports.http
      const a = await buildHttpApp(ctx, deps)
      try {
        await a.listen({ host: bind, port })
      } catch (err) {
        await a.close().catch(() => {})
        throw new BindError('http', bind, port, err as NodeJS.ErrnoException)
      }
      const addr = a.server.address()
      bound = typeof addr === 'object' && addr !== null ? addr.port : port
      app = a
    },
    async stop () {
      const a = app
      app = undefined
      if (a !== undefined) await a.close()
    }
  }
}
