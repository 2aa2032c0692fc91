// build(deps) wires the services and returns {start, stop}. No I/O at import time; main.ts does argv and signals.
import type { AppContext, Service, ServiceFactory } from './service.js'
import { createService as http } from './http/service.js'
import { createService as tftp } from './tftp/service.js'
import { createThreadedService as dhcp } from './dhcp/thread/threaded-service.js'
import { createService as deployments } from './deployments/service.js'

export interface App {
  readonly services: readonly Service[]
  start (): Promise<void>
  stop (): Promise<void>
}

/** Services start in this order and stop in reverse. A factory returns undefined when config disables it. */
export const defaultFactories: readonly ServiceFactory[] = [http, tftp, dhcp, deployments]

export function build (ctx: AppContext, factories: readonly ServiceFactory[] = defaultFactories): App {
  const services = factories.map(f => f(ctx)).filter((s): s is Service => s !== undefined)
  const started: Service[] = []
  return {
    services,
    async start () {
      for (const s of services) {
        try {
          await s.start()
        } catch (err) {
          // Leave nothing half-bound: stop what already started, then report the failure.
          for (const r of [...started].reverse()) await r.stop().catch(() => {})
          started.length = 0
          throw err
        }
        started.push(s)
        ctx.log.info({ service: s.name }, 'service started')
      }
    },
    async stop () {
      for (const s of [...started].reverse()) {
        await s.stop().catch((err) => ctx.log.error({ err, service: s.name }, 'service stop failed'))
      }
      started.length = 0
    }
  }
}
