// What the HTTP side needs from the policy and the deployments service. The real ones are wired in
// defaults.ts; tests pass fakes (a throwing policy proves the retry script).
import type { AppConfig } from '../config/schema.js'
import type { BootDecision } from '../policy/decision.js'
import type { Explanation } from '../policy/decide.js'
import type { ClientIdentity } from '../policy/types.js'
import type { Deployment, DeploymentEvent, Machine } from '../store/types.js'
import type { DeploymentResult, ResolvedTaskSequence, StepStatus } from '../deployments/types.js'

export interface PolicyInput {
  config: AppConfig
  client: ClientIdentity
  machine: Machine | undefined
  history: Deployment[]
  now: Date
}

export interface PolicyPort {
  decide (input: PolicyInput): BootDecision
  explain (input: PolicyInput): Explanation
  /** a person picked this advertisement from the menu: 'deploy' when it is offered now, else 'local' */
  chooseFromMenu (input: PolicyInput, advertisementId: string): BootDecision
}

export type DeployDecision = Extract<BootDecision, { kind: 'deploy' }>

export interface DeploymentsPort {
  begin (client: ClientIdentity, decision: DeployDecision): Promise<{ deployment: Deployment, token: string }>
  authenticate (token: string): Promise<Deployment>
  resolveTaskSequence (d: Deployment, baseUrl: string): Promise<ResolvedTaskSequence>
  reportStatus (d: Deployment, s: StepStatus): Promise<unknown>
  appendLog (d: Deployment, text: string): Promise<unknown>
  finish (d: Deployment, r: DeploymentResult): Promise<unknown>
  reimage (mac: string): Promise<unknown>
  protect (mac: string, on: boolean): Promise<unknown>
  list (): Promise<Deployment[]>
  get (id: string): Promise<Deployment | undefined>
  events (id: string): Promise<DeploymentEvent[]>
}

export interface HttpDeps {
  policy: PolicyPort
  deployments: DeploymentsPort
}
