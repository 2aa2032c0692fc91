// Deployments: the state kept in the store for each boot the policy sends to the PE, and the one-time token the
// PE proves itself with. State machine in state.ts; every change appends an event in the same store write (a crash
// never keeps one without the other), so `deployments show` tells the whole story and a daemon restart loses
// nothing (the store is the only state; see tokenIndex).
import type { AppContext } from '../service.js'
import type { BootDecision } from '../policy/decision.js'
import type { ClientIdentity } from '../policy/types.js'
import type { Deployment, DeploymentEvent, DeploymentState, ImageEntry, NewDeploymentEvent, Store } from '../store/types.js'
import type { DeploymentResult, ResolvedTaskSequence, StepStatus } from './types.js'
import { BadRequestError, ConflictError, NotFoundError, UnauthorizedError } from '../errors.js'
import { KeyedLock } from '../store/lock.js'
import { assertTransition, isEnded } from './state.js'
import { hashToken, newDeploymentId, newToken, tokenMatches } from './tokens.js'
import { imagesOf, resolveTaskSequence } from './resolve.js'
import { createAdmin, type DeploymentsAdmin } from './admin.js'

export type DeployDecision = Extract<BootDecision, { kind: 'deploy' }>

export interface Deployments extends DeploymentsAdmin {
  begin (client: ClientIdentity, decision: DeployDecision): Promise<{ deployment: Deployment, token: string }>
  /** The live deployment this token was issued for; with `deploymentId`, also that it is that one. 401 otherwise. */
  authenticate (token: string, deploymentId?: string): Promise<Deployment>
  resolveTaskSequence (d: Deployment, baseUrl: string): Promise<ResolvedTaskSequence>
  reportStatus (d: Deployment, s: StepStatus): Promise<Deployment>
  appendLog (d: Deployment, text: string): Promise<Deployment>
  finish (d: Deployment, r: DeploymentResult): Promise<Deployment>
  sweep (now: Date): Promise<Deployment[]>
}

/** Bound of Deployment.logTail and of one 'log' event's message (bytes of UTF-8). */
export const LOG_TAIL_BYTES = 64 * 1024

/**
 * Per-store shared state, so every Deployments built on one store (HTTP routes, the sweep, tests) serializes its
 * read-modify-writes on one lock and sees the same token index. The index maps SHA-256(token) → deployment id;
 * it is rebuilt from the store on first use, which is how tokens survive a daemon restart. Ended deployments
 * stay in it (a late PE learns that its deployment ended); tokens expired before a restart are not reloaded.
 */
interface Shared { lock: KeyedLock, tokens?: Map<string, string> }
const sharedByStore = new WeakMap<Store, Shared>()

function shared (store: Store): Shared {
  let s = sharedByStore.get(store)
  if (s === undefined) { s = { lock: new KeyedLock() }; sharedByStore.set(store, s) }
  return s
}

export function createDeployments (ctx: AppContext): Deployments {
  const { store, clock } = ctx
  const log = ctx.log.child({ proto: 'deployments' })
  const sh = shared(store)
  const iso = (): string => clock.now().toISOString()

  async function tokenIndex (): Promise<Map<string, string>> {
    if (sh.tokens !== undefined) return sh.tokens
    const index = new Map<string, string>()
    // Tokens already expired when the daemon starts cannot authenticate anyway: leave them out (they then read
    // as unknown rather than expired), so the index holds one boot-token lifetime of deployments, not all history.
    const now = clock.now().getTime()
    for (const d of await store.deployments.list()) if (Date.parse(d.tokenExpiresAt) > now) index.set(d.tokenHash, d.id)
    sh.tokens ??= index
    return sh.tokens
  }

  /** An event to store with a deployment write (stamped now unless `extra.at`). */
  function ev (type: string, extra: Partial<Omit<DeploymentEvent, 'seq' | 'deploymentId' | 'type'>> = {}): NewDeploymentEvent {
    return { at: extra.at ?? iso(), type, ...extra }
  }

  /** An event on its own, for what changes no deployment field (admin re-image). */
  async function event (d: Deployment, type: string, extra: Partial<Omit<DeploymentEvent, 'seq' | 'deploymentId' | 'type'>> = {}): Promise<void> {
    await store.deployments.appendEvent({ deploymentId: d.id, ...ev(type, extra) })
  }

  /** Run fn on the stored (fresh) deployment under its lock: the caller's copy may be stale. */
  async function locked<T> (id: string, fn: (d: Deployment) => Promise<T>): Promise<T> {
    return await sh.lock.run(id, async () => {
      const d = await store.deployments.get(id)
      if (d === undefined) throw new NotFoundError(`no deployment ${id}`)
      return await fn(d)
    })
  }

  /**
   * Move d to `to` (checked), with the patch and the events that record it, in one write. Ended deployments keep
   * their index entry: a late PE is told why.
   */
  async function move (d: Deployment, to: DeploymentState, patch: Partial<Deployment>, events: NewDeploymentEvent[]): Promise<Deployment> {
    assertTransition(d.id, d.state, to)
    return await store.deployments.update(d.id, { ...patch, state: to, updatedAt: iso() }, events)
  }

  async function fail (d: Deployment, error: string, patch: Partial<Deployment> = {}): Promise<Deployment> {
    return await move(d, 'failed', { ...patch, endedAt: iso(), error }, [ev('failed', { message: error })])
  }

  /** A machine boots one PE at a time: a new boot ends every live deployment of it (its token dies with it). */
  async function supersedeLive (mac: string): Promise<void> {
    for (const old of await store.deployments.listByMachine(mac)) {
      if (isEnded(old.state)) continue
      await locked(old.id, async (d) => {
        if (isEnded(d.state)) return
        await fail(d, 'superseded by a new boot')
        log.info({ deployment: d.id, mac }, 'deployment superseded by a new boot')
      })
    }
  }

  async function create (client: ClientIdentity, decision: DeployDecision, tokenHash: string): Promise<Deployment> {
    const events = [
      ev('created', { message: `${decision.advertisement.id} (${decision.advertisement.purpose}) → task sequence ${decision.taskSequence.id}, ${decision.taskSequence.steps.length} steps` }),
      ev('booting', { message: `PE booting on ${client.mac} (${client.arch})` })
    ]
    const now = clock.now()
    const ttl = ctx.config.current().deployment.tokenTtlMinutes * 60_000
    for (let attempt = 0; ; attempt++) {
      const d: Deployment = {
        id: newDeploymentId(),
        advertisementId: decision.advertisement.id,
        taskSequenceId: decision.taskSequence.id,
        mac: client.mac,
        purpose: decision.advertisement.purpose,
        state: 'booting',
        tokenHash,
        tokenExpiresAt: new Date(now.getTime() + ttl).toISOString(),
        totalSteps: decision.taskSequence.steps.length,
        createdAt: now.toISOString(),
        updatedAt: now.toISOString()
      }
      try {
        await store.deployments.create(d, events)
        return d
      } catch (err) {
        // 48-bit ids collide only by bad luck: draw again once or twice.
        if ((err as { code?: string }).code !== 'NB_ERR_CONFLICT' || attempt >= 3) throw err
      }
    }
  }

  return {
    async begin (client, decision) {
      if (decision?.kind !== 'deploy') throw new BadRequestError('begin needs a deploy decision')
      await supersedeLive(client.mac)
      const token = newToken()
      const tokenHash = hashToken(token)
      const d = await create(client, decision, tokenHash)
      ;(await tokenIndex()).set(tokenHash, d.id)
      log.info({ deployment: d.id, mac: d.mac, advertisement: d.advertisementId }, 'deployment created')
      return { deployment: d, token }
    },

    async authenticate (token, deploymentId) {
      const deny = (why: string): never => { throw new UnauthorizedError(`deployment token ${why}`) }
      if (typeof token !== 'string' || token === '' || token.length > 256) deny('missing or malformed')
      const id = (await tokenIndex()).get(hashToken(token))
      const d = id === undefined ? undefined : await store.deployments.get(id)
      if (d === undefined || !tokenMatches(token, d.tokenHash)) return deny('unknown')
      if (deploymentId !== undefined && deploymentId !== d.id) return deny(`is not for deployment ${deploymentId}`)
      if (isEnded(d.state)) return deny(`of an ended deployment (${d.state})`)
      if (clock.now().getTime() >= Date.parse(d.tokenExpiresAt)) return deny(`expired at ${d.tokenExpiresAt}`)
      return d
    },

    async resolveTaskSequence (given, baseUrl) {
      return await locked(given.id, async (d) => {
        if (isEnded(d.state)) throw new ConflictError(`deployment ${d.id} already ${d.state}`)
        const ts = ctx.config.current().taskSequences.find(t => t.id === d.taskSequenceId)
        if (ts === undefined) throw new NotFoundError(`task sequence ${d.taskSequenceId} is no longer in the config`)
        const machine = await store.machines.get(d.mac)
        const images = new Map<string, ImageEntry>()
        for (const imageId of imagesOf(ts)) {
          const e = await store.images.get(imageId)
          if (e !== undefined) images.set(imageId, e)
        }
        let cur = d
        if (d.state === 'booting') {
          // First fetch: the PE is up. currentStep 0 marks that the sequence started (the policy counts it as
          // an attempt for rerun=never even if it fails later).
          cur = await move(d, 'running', { currentStep: 0, progress: 0 }, [ev('checked-in', { message: `PE fetched the task sequence (${ts.steps.length} steps)` })])
        }
        return resolveTaskSequence({ deployment: cur, taskSequence: ts, machine, images, baseUrl: baseUrl.replace(/\/+$/, '') })
      })
    },

    async reportStatus (given, s) {
      const status = checkStatus(s)
      return await locked(given.id, async (d) => {
        if (isEnded(d.state)) throw new ConflictError(`deployment ${d.id} already ${d.state}: no more reports`)
        if (d.state !== 'running') throw new ConflictError(`deployment ${d.id} is ${d.state}: the PE must fetch its task sequence before reporting steps`)
        if (status.step >= d.totalSteps) {
          throw new BadRequestError(`step ${status.step} is out of range: the task sequence has steps 0..${d.totalSteps - 1}`)
        }
        return await recordStatus(d, status)
      })
    },

    async appendLog (given, text) {
      if (typeof text !== 'string') throw new BadRequestError('log text must be a string')
      return await locked(given.id, async (d) => {
        if (isEnded(d.state)) throw new ConflictError(`deployment ${d.id} already ${d.state}: no more logs`)
        if (text === '') return d
        return await store.deployments.update(d.id, { logTail: tailBytes((d.logTail ?? '') + text), updatedAt: iso() }, [ev('log', { message: tailBytes(text) })])
      })
    },

    async finish (given, r) {
      if (r?.result !== 'succeeded' && r?.result !== 'failed') throw new BadRequestError('result must be "succeeded" or "failed"')
      return await locked(given.id, async (d) => {
        const logTail = typeof r.logTail === 'string' && r.logTail !== '' ? { logTail: tailBytes((d.logTail ?? '') + r.logTail) } : {}
        if (r.result === 'succeeded') {
          const next = await move(d, 'succeeded', { endedAt: iso(), ...logTail }, [ev('succeeded', { message: 'task sequence completed' })])
          log.info({ deployment: d.id, mac: d.mac }, 'deployment succeeded')
          return next
        }
        const error = typeof r.error === 'string' && r.error !== '' ? r.error.slice(0, 4096) : 'the PE reported a failure'
        const next = await fail(d, error, logTail)
        log.warn({ deployment: d.id, mac: d.mac, error }, 'deployment failed')
        return next
      })
    },

    async sweep (now) {
      const minutes = ctx.config.current().deployment.checkInTimeoutMinutes
      const swept: Deployment[] = []
      for (const cand of await store.deployments.list()) {
        if (cand.state !== 'booting' && cand.state !== 'running' && cand.state !== 'advertised') continue
        const next = await locked(cand.id, async (d) => {
          if (isEnded(d.state) || Date.parse(d.updatedAt) + minutes * 60_000 > now.getTime()) return undefined
          return await fail(d, `no report from the PE for ${minutes} minutes`)
        })
        if (next !== undefined) swept.push(next)
      }
      return swept
    },

    ...createAdmin(ctx, event)
  }

  async function recordStatus (d: Deployment, s: StepStatus): Promise<Deployment> {
    const progress = s.state === 'end' ? 100 : s.state === 'start' ? (s.progress ?? 0) : (s.progress ?? d.progress ?? 0)
    const type = s.state === 'error' ? 'step-error' : `step-${s.state}`
    // Progress reports can come every second: an event only when it crosses a tenth, the deployment always.
    const sameTenth = s.state === 'progress' && d.currentStep === s.step && Math.floor((d.progress ?? 0) / 10) === Math.floor(progress / 10)
    const events = sameTenth
      ? []
      : [ev(type, { step: s.step, ...(s.state === 'progress' ? { progress } : {}), ...(s.message !== undefined ? { message: s.message.slice(0, 4096) } : {}) })]
    return await move(d, 'running', { currentStep: s.step, progress }, events)
  }
}

function checkStatus (s: StepStatus): StepStatus {
  if (typeof s !== 'object' || s === null) throw new BadRequestError('status must be an object')
  if (!Number.isInteger(s.step) || s.step < 0) throw new BadRequestError(`step must be a non-negative integer, got ${String(s.step)}`)
  if (!['start', 'progress', 'end', 'error'].includes(s.state)) {
    throw new BadRequestError(`state must be start, progress, end or error, got ${String(s.state)}`)
  }
  if (s.progress !== undefined && (typeof s.progress !== 'number' || !(s.progress >= 0 && s.progress <= 100))) {
    throw new BadRequestError(`progress must be a number 0..100, got ${String(s.progress)}`)
  }
  if (s.message !== undefined && typeof s.message !== 'string') throw new BadRequestError('message must be a string')
  return s
}

/** The last LOG_TAIL_BYTES bytes of text, starting at a line or at least a character boundary. */
export function tailBytes (text: string): string {
  const buf = Buffer.from(text, 'utf8')
  if (buf.length <= LOG_TAIL_BYTES) return text
  let start = buf.length - LOG_TAIL_BYTES
  while (start < buf.length && ((buf[start] as number) & 0xc0) === 0x80) start++   // skip UTF-8 continuation bytes
  return buf.subarray(start).toString('utf8')
}
