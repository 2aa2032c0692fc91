// PLACEHOLDER until the http issue lands: the http service is not built yet.
import type { AppContext, Service } from '../service.js'

export function createService (_ctx: AppContext): Service | undefined {
  return undefined
}
