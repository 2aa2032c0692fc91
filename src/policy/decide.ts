// The policy: collections → advertisements → boot decision. PURE: no I/O, no clock (`now` is an input), so the
// same input always gives the same decision, and `whatif` can show exactly what a boot would get and why.
// ConfigMgr's model with matchbox's rule for conflicts: the most specific collection match wins, ties by id.
import type { Advertisement, AppConfig, TaskSequence } from '../config/schema.js'
import type { Deployment, Machine } from '../store/types.js'
import type { BootDecision } from './decision.js'
import type { ClientIdentity } from './types.js'
import { describeRef, identityOf, knownCollections, matchCollections, protectedBy, type CollectionMatch, type MatchKind } from './match.js'
import { bootingDeployment, historyContext, lastAttempt, rerunVerdict, runningDeployment, type HistoryContext } from './history.js'

export interface PolicyInput {
  config: AppConfig
  client: ClientIdentity
  /** the machine's inventory record (admin flags `protected`, `reimageAfter`; identity the client did not send) */
  machine?: Machine
  /** this machine's deployments from the store */
  history: Deployment[]
  now: Date
}

export interface CollectionVerdict {
  id: string
  name?: string
  kind: MatchKind
  specificity: number
  why: string
}

export type AdVerdictKind =
  | 'deploy' | 'menu' | 'shadowed' | 'skipped' | 'protected' | 'held'
  | 'not-member' | 'not-started' | 'expired' | 'missing-task-sequence'

export interface AdvertisementVerdict {
  id: string
  purpose: 'required' | 'available'
  collection: string
  taskSequence: string
  verdict: AdVerdictKind
  why: string
  /** specificity of the collection match, for advertisements whose collection holds the machine */
  specificity?: number
}

export interface Explanation {
  decision: BootDecision
  collections: CollectionVerdict[]
  advertisements: AdvertisementVerdict[]
}

interface Candidate {
  ad: Advertisement
  ts: TaskSequence
  match: CollectionMatch
  verdict: AdvertisementVerdict
}

/** The boot decision for this machine now. */
export function decide (input: PolicyInput): BootDecision {
  return explain(input).decision
}

/** True when a collection names the machine by member or non-unknown rule, or it is in the inventory. */
export function isKnown (config: Pick<AppConfig, 'collections'>, client: ClientIdentity, machine?: Machine): boolean {
  return machine !== undefined || knownCollections(config, identityOf(client, machine)).length > 0
}

const bySpecificityThenId = (a: Candidate, b: Candidate): number =>
  b.match.specificity - a.match.specificity || (a.ad.id < b.ad.id ? -1 : a.ad.id > b.ad.id ? 1 : 0)

const adLabel = (ad: Advertisement): string => `advertisement ${ad.id} (${ad.purpose}, collection ${ad.collection})`

/** Decision, matched collections and a verdict for every advertisement of the config: what `whatif` prints. */
export function explain (input: PolicyInput): Explanation {
  const { config, client, machine, now } = input
  const id = identityOf(client, machine)
  const trace: string[] = [identityLine(client, machine)]
  const matches = matchCollections(config, id)
  for (const m of matches) trace.push(`collection ${m.collection.id} matched: ${m.why}`)
  if (matches.length === 0) trace.push('in no collection (no member entry or rule matches)')
  const verdicts: AdvertisementVerdict[] = []
  const candidates: Candidate[] = []
  const byCollection = new Map(matches.map(m => [m.collection.id, m]))
  const sequences = new Map(config.taskSequences.map(ts => [ts.id, ts]))
  for (const ad of [...config.advertisements].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    const c = screen(ad, byCollection, sequences, now)
    verdicts.push(c.verdict)
    if ('ad' in c) candidates.push(c)
    else if (c.verdict.verdict !== 'not-member') trace.push(`${adLabel(ad)} not offered: ${c.verdict.why}`)
  }
  const h = historyContext(input.history, machine, now, config.deployment.checkInTimeoutMinutes * 60_000)
  const decision = decideAmong(candidates, input, h, trace, idleReason(verdicts))
  return {
    decision,
    collections: matches.map(m => ({ id: m.collection.id, ...(m.collection.name !== undefined ? { name: m.collection.name } : {}), kind: m.kind, specificity: m.specificity, why: m.why })),
    advertisements: verdicts
  }
}

/** Why nothing applies when no advertisement is a candidate: name the ones waiting for their schedule. */
function idleReason (verdicts: AdvertisementVerdict[]): string {
  const ruledOut = verdicts.filter(v => v.verdict === 'not-started' || v.verdict === 'expired' || v.verdict === 'missing-task-sequence')
  const base = 'no advertisement applies to this machine now'
  return ruledOut.length === 0 ? base : `${base} (${ruledOut.map(v => `${v.id} ${v.why}`).join('; ')})`
}

function identityLine (client: ClientIdentity, machine?: Machine): string {
  const id = identityOf(client, machine)
  const parts = [`mac ${id.mac}`]
  for (const f of ['arch', 'uuid', 'serial', 'manufacturer', 'product'] as const) {
    const v = id[f]
    if (v !== undefined) parts.push(`${f} ${v}${client[f] === undefined ? ' (inventory)' : ''}`)
  }
  return `machine ${parts.join(', ')}${machine === undefined ? ' — not in the inventory yet' : ''}`
}

/** Membership, task sequence and schedule: either a candidate or the verdict that rules the advertisement out. */
function screen (ad: Advertisement, matches: ReadonlyMap<string, CollectionMatch>, sequences: ReadonlyMap<string, TaskSequence>, now: Date): Candidate | { verdict: AdvertisementVerdict } {
  const base = { id: ad.id, purpose: ad.purpose, collection: ad.collection, taskSequence: ad.taskSequence }
  const match = matches.get(ad.collection)
  if (match === undefined) return { verdict: { ...base, verdict: 'not-member', why: `machine is not in collection ${ad.collection}` } }
  const spec = { specificity: match.specificity }
  const ts = sequences.get(ad.taskSequence)
  if (ts === undefined) return { verdict: { ...base, ...spec, verdict: 'missing-task-sequence', why: `task sequence ${ad.taskSequence} is not in the config` } }
  // Schedule: offered while start ≤ now < expires.
  if (ad.start !== undefined && now.getTime() < Date.parse(ad.start)) {
    return { verdict: { ...base, ...spec, verdict: 'not-started', why: `starts at ${ad.start}` } }
  }
  if (ad.expires !== undefined && now.getTime() >= Date.parse(ad.expires)) {
    return { verdict: { ...base, ...spec, verdict: 'expired', why: `expired at ${ad.expires}` } }
  }
  return { ad, ts, match, verdict: { ...base, ...spec, verdict: 'deploy', why: '' } }
}

function protectionOf (input: PolicyInput): string | undefined {
  const ref = protectedBy(input.config, identityOf(input.client, input.machine))
  if (ref !== undefined) return `protected by the config (${describeRef(ref)})`
  if (input.machine?.protected === true) return 'protected by an admin (machines protect)'
  return undefined
}

function decideAmong (cands: Candidate[], input: PolicyInput, h: HistoryContext, trace: string[], idle: string): BootDecision {
  const running = runningDeployment(h)
  if (running !== undefined) return holdForRunning(running, cands, trace)
  // Protected machines (site servers) never get a required deployment. This is the ConfigMgr recommendation
  // to keep site servers out of collections with required deployments, enforced; available ones stay in the menu.
  const protection = protectionOf(input)
  const required: Candidate[] = []
  const available: Candidate[] = []
  let skipReason: string | undefined
  for (const c of [...cands].sort(bySpecificityThenId)) {
    const isRequired = c.ad.purpose === 'required'
    if (isRequired && protection !== undefined) {
      setVerdict(c, 'protected', `${protection}: required deployments never run on it`)
      trace.push(`${adLabel(c.ad)} → skipped: ${c.verdict.why}`)
      skipReason ??= `${c.ad.id} is required but the machine is ${protection}`
      continue
    }
    const rerun = rerunVerdict(c.ad, lastAttempt(h, c.ad.id))
    if (!rerun.run) {
      setVerdict(c, 'skipped', rerun.why)
      trace.push(`${adLabel(c.ad)}: ${rerun.why}`)
      if (isRequired) skipReason ??= `${c.ad.id}: ${rerun.why}`
      continue
    }
    (isRequired ? required : available).push(c)
    c.verdict.why = rerun.why
  }
  if (required.length > 0) return deployRequired(required, available, h, trace)
  if (available.length > 0) return offerMenu(available, trace)
  const reason = skipReason ?? (cands.length === 0 ? idle : 'no advertisement left to run')
  trace.push(`→ local disk: ${reason}`)
  return { kind: 'local', reason, trace }
}

function setVerdict (c: Candidate, verdict: AdVerdictKind, why: string): void {
  c.verdict.verdict = verdict
  c.verdict.why = why
}

function holdForRunning (running: Deployment, cands: Candidate[], trace: string[]): BootDecision {
  const step = running.currentStep !== undefined ? ` step ${running.currentStep + 1} of ${running.totalSteps}` : ''
  const reason = `deployment ${running.id} (${running.advertisementId}) is running${step}, last report ${running.updatedAt}: ` +
    'this boot is the task sequence restarting the machine mid-way'
  for (const c of cands) setVerdict(c, 'held', `deployment ${running.id} is running`)
  trace.push(`→ local disk: ${reason}`)
  return { kind: 'local', reason, trace }
}

function deployRequired (required: Candidate[], available: Candidate[], h: HistoryContext, trace: string[]): BootDecision {
  const [win, ...rest] = required as [Candidate, ...Candidate[]]
  setVerdict(win, 'deploy', `most specific required advertisement (${win.match.kind}, specificity ${win.match.specificity}); ${win.verdict.why}`)
  trace.push(`${adLabel(win.ad)} → task sequence ${win.ts.id}: ${win.verdict.why}`)
  const booting = bootingDeployment(h, win.ad.id)
  if (booting !== undefined) {
    trace.push(`deployment ${booting.id} of it never checked in (PXE retried): this boot supersedes it`)
  }
  for (const c of rest) {
    setVerdict(c, 'shadowed', `shadowed by ${win.ad.id} (more specific or earlier id)`)
    trace.push(`shadowed: ${adLabel(c.ad)} (specificity ${c.match.specificity})`)
  }
  for (const c of available) setVerdict(c, 'shadowed', `required advertisement ${win.ad.id} runs instead of the menu`)
  return { kind: 'deploy', advertisement: win.ad, taskSequence: win.ts, trace }
}

function offerMenu (available: Candidate[], trace: string[]): BootDecision {
  for (const c of available) {
    setVerdict(c, 'menu', `offered in the menu; ${c.verdict.why}`)
    trace.push(`${adLabel(c.ad)} → menu item, task sequence ${c.ts.id}`)
  }
  trace.push(`→ menu of ${available.length} available deployment(s), timing out to the local disk`)
  return { kind: 'menu', items: available.map(c => ({ advertisement: c.ad, taskSequence: c.ts })), trace }
}

/**
 * A person picked `advertisementId` from the menu: deploy it if the policy offers it to this machine right now,
 * else boot locally (a stale or forged menu choice never starts a deployment).
 */
export function chooseFromMenu (input: PolicyInput, advertisementId: string): BootDecision {
  const d = decide(input)
  const item = d.kind === 'menu' ? d.items.find(i => i.advertisement.id === advertisementId) : undefined
  if (item === undefined) {
    const reason = `advertisement ${advertisementId} is not offered to this machine now`
    return { kind: 'local', reason, trace: [...d.trace, `→ local disk: ${reason}`] }
  }
  return { kind: 'deploy', ...item, trace: [...d.trace, `chosen from the menu: ${advertisementId}`] }
}
