// Resolve a task sequence for the PE, pure: number the steps, add download/upload URLs and image sizes and
// checksums, and expand `${VAR}` references. The PE runner (boot/pe/) reads the result with jq.
import type { Step, TaskSequence } from '../config/schema.js'
import type { Deployment, ImageEntry, Machine } from '../store/types.js'
import type { ResolvedStep, ResolvedTaskSequence } from './types.js'

export interface ResolveInput {
  deployment: Deployment
  taskSequence: TaskSequence
  machine?: Machine
  /** catalogue entries of the images the sequence applies (missing ones are simply not catalogued yet) */
  images: ReadonlyMap<string, ImageEntry>
  /** appliance base URL, no trailing slash */
  baseUrl: string
}

const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g

/**
 * Replace `${NAME}` with the variable's value. Names match exactly first, then case-insensitively (the config's
 * own example writes `${serial}` for the built-in SERIAL). Unknown names are left as written, so a shell inside
 * the PE can still expand them.
 */
export function expand (text: string, vars: Readonly<Record<string, string>>): string {
  const folded = new Map(Object.entries(vars).map(([k, v]) => [k.toLowerCase(), v]))
  return text.replace(REF, (whole, name: string) => vars[name] ?? folded.get(name.toLowerCase()) ?? whole)
}

/** Built-in variables: what the appliance knows of the machine and the deployment. Unknown values are ''. */
export function builtIns (d: Deployment, machine?: Machine): Record<string, string> {
  return {
    MAC: d.mac,
    UUID: machine?.uuid ?? '',
    SERIAL: machine?.serial ?? '',
    MANUFACTURER: machine?.manufacturer ?? '',
    PRODUCT: machine?.product ?? '',
    ARCH: machine?.arch ?? '',
    DEPLOYMENT_ID: d.id
  }
}

/**
 * The sequence's variables with references expanded (to built-ins and to each other, a few rounds so chains
 * resolve and cycles stop), then the built-ins, which win: they are facts about this machine.
 */
export function resolveVariables (defined: Readonly<Record<string, string>>, builtin: Record<string, string>): Record<string, string> {
  let vars: Record<string, string> = { ...defined, ...builtin }
  for (let round = 0; round < 8; round++) {
    const next: Record<string, string> = {}
    for (const [k, v] of Object.entries(defined)) next[k] = expand(v, vars)
    const merged = { ...next, ...builtin }
    if (Object.keys(next).every(k => next[k] === vars[k])) return merged
    vars = merged
  }
  return vars
}

/** A path under paths.files as a URL path: each segment percent-encoded, separators kept. */
function encodePath (p: string): string {
  return p.split('/').filter(s => s !== '' && s !== '.').map(encodeURIComponent).join('/')
}

function resolveStep (step: Step, index: number, input: ResolveInput, vars: Record<string, string>): ResolvedStep {
  const out: ResolvedStep = { ...step, index }
  switch (step.type) {
    case 'applyImage': {
      // The step's own `index` (WIM image index) would be overwritten by the position: it travels as imageIndex.
      out.imageIndex = step.index
      out.url = `${input.baseUrl}/images/${encodeURIComponent(step.image)}`
      const entry = input.images.get(step.image)
      if (entry !== undefined) {
        out.size = entry.size
        out.sha256 = entry.sha256
      }
      break
    }
    case 'applyFiles':
      out.url = `${input.baseUrl}/files/${encodePath(step.source)}`
      break
    case 'capture':
      out.uploadUrl = `${input.baseUrl}/pe/v1/capture/${encodeURIComponent(step.image)}`
      break
    case 'setComputerName':
      return { ...step, index, computerName: expand(step.computerName, vars) }
    default:
      break
  }
  return out
}

export function resolveTaskSequence (input: ResolveInput): ResolvedTaskSequence {
  const { deployment: d, taskSequence: ts } = input
  const variables = resolveVariables(ts.variables ?? {}, builtIns(d, input.machine))
  return {
    deploymentId: d.id,
    taskSequenceId: ts.id,
    name: ts.name ?? ts.id,
    applianceUrl: input.baseUrl,
    variables,
    steps: ts.steps.map((s, i) => resolveStep(s, i, input, variables))
  }
}

/** Image ids the sequence applies, for the catalogue lookups. */
export function imagesOf (ts: TaskSequence): string[] {
  return [...new Set(ts.steps.flatMap(s => (s.type === 'applyImage' ? [s.image] : [])))]
}
