// PLACEHOLDER until the tftp issue lands: the tftp service is not built yet.
import type { AppContext, Service } from '../service.js'

export function createService (_ctx: AppContext): Service | undefined {
  return undefined
}
