// The real policy and deployments service behind the HTTP routes (tests may replace either).
import type { AppContext } from '../service.js'
import { chooseFromMenu, decide, explain } from '../policy/decide.js'
import { createDeployments } from '../deployments/deployments.js'
import type { HttpDeps } from './deps.js'

export function defaultDeps (ctx: AppContext): HttpDeps {
  return { policy: { decide, explain, chooseFromMenu }, deployments: createDeployments(ctx) }
}
