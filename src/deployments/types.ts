// The contract between the deployments service (server side) and the task-sequence runner inside the PE.
// GET /pe/v1/task-sequence answers with a ResolvedTaskSequence as JSON; the runner (boot/pe/) reads it with jq.
import type { Step } from '../config/schema.js'

/** One step with everything the PE needs to run it; fields beyond the config's are added by the server. */
export type ResolvedStep = Step & {
  /** 0-based position in the sequence */
  index: number
  /** applyImage: the image index inside the WIM. The config step's own `index` field is shadowed by the
   *  0-based position above, so the server copies it here; the runner reads imageIndex (default 1). */
  imageIndex?: number
  /** applyImage: where and what to stream */
  url?: string
  size?: number
  sha256?: string
  /** capture: where to upload the captured WIM (see src/http/routes/uploads.ts) */
  uploadUrl?: string
}

export interface ResolvedTaskSequence {
  deploymentId: string
  taskSequenceId: string
  name: string
  /** base URL of the appliance, no trailing slash */
  applianceUrl: string
  /** the task sequence's variables plus built-ins: MAC, UUID, SERIAL, MANUFACTURER, PRODUCT, ARCH, DEPLOYMENT_ID */
  variables: Record<string, string>
  steps: ResolvedStep[]
}

/** Body of POST /pe/v1/status */
export interface StepStatus {
  step: number
  state: 'start' | 'progress' | 'end' | 'error'
  progress?: number
  message?: string
}

/** Body of POST /pe/v1/result */
export interface DeploymentResult {
  result: 'succeeded' | 'failed'
  error?: string
  logTail?: string
}
