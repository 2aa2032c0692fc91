// PLACEHOLDER until the deployments issue lands (periodic sweep of deployments whose PE never reported).
import type { AppContext, Service } from '../service.js'

export function createService (_ctx: AppContext): Service | undefined {
  return undefined
}
