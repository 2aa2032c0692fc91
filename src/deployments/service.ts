// The deployments service: every minute, fail deployments whose PE stopped reporting
// (deployment.checkInTimeoutMinutes). Opens no socket; the timer is unref'd so it never keeps the process alive.
import type { AppContext, Service } from '../service.js'
import { createDeployments } from './deployments.js'

export const SWEEP_INTERVAL_MS = 60_000

export function createService (ctx: AppContext): Service {
  const deployments = createDeployments(ctx)
  const log = ctx.log.child({ proto: 'deployments' })
  let timer: NodeJS.Timeout | undefined
  let running = false

  async function tick (): Promise<void> {
    if (running) return            // a slow store: never run two sweeps at once
    running = true
    try {
      for (const d of await deployments.sweep(ctx.clock.now())) {
        log.warn({ deployment: d.id, mac: d.mac, advertisement: d.advertisementId }, d.error ?? 'deployment timed out')
      }
    } catch (err) {
      log.error({ err }, 'deployment sweep failed; retrying in a minute')
    } finally {
      running = false
    }
  }

  return {
    name: 'deployments',
    async start () {
      if (timer !== undefined) return
      timer = setInterval(() => { void tick() }, SWEEP_INTERVAL_MS)
      timer.unref()
      void tick()                  // deployments that timed out while the daemon was down fail right away
    },
    async stop () {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
    }
  }
}
