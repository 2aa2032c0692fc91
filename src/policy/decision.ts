// What the policy decides for one machine at one moment. Pure data: the HTTP side renders it as an iPXE script,
// `whatif` prints it with its trace, and the deployments service turns a 'deploy' into a deployment with a token.
import type { Advertisement, TaskSequence } from '../config/schema.js'

export type BootDecision =
  /** Boot from the local disk (no deployment, deployment already done, protected machine, …). */
  | { kind: 'local', reason: string, trace: string[] }
  /** Boot the PE and run this advertisement's task sequence (required, or picked from the menu). */
  | { kind: 'deploy', advertisement: Advertisement, taskSequence: TaskSequence, trace: string[] }
  /** Offer a menu of available advertisements; it times out to the local disk. */
  | { kind: 'menu', items: Array<{ advertisement: Advertisement, taskSequence: TaskSequence }>, trace: string[] }
