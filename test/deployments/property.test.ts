// Property: whatever a PE (or a broken one, or an impatient admin) sends in whatever order, a deployment only
// moves along legal transitions, an ended one never changes again, events are numbered 1..n without gaps, and
// every refusal is a coded 4xx error.
import t from 'tap'
import fc from 'fast-check'
import { NetbootError } from '../../src/errors.js'
import type { DeploymentState } from '../../src/store/types.js'
import { BASE_URL, client, decision, setup } from './helpers.js'

// Written out here, independent of src/deployments/state.ts, so a wrong table there fails this test.
const LEGAL = new Set(['booting>running', 'booting>failed', 'running>succeeded', 'running>failed'])

const op = fc.oneof(
  fc.constant({ k: 'fetch' as const }),
  fc.record({ k: fc.constant('status' as const), step: fc.integer({ min: -1, max: 8 }), state: fc.constantFrom('start', 'progress', 'end', 'error', 'nope'), progress: fc.option(fc.integer({ min: -5, max: 105 }), { nil: undefined }) }),
  fc.record({ k: fc.constant('log' as const), text: fc.string({ maxLength: 40 }) }),
  fc.record({ k: fc.constant('finish' as const), result: fc.constantFrom('succeeded', 'failed', 'maybe') }),
  fc.record({ k: fc.constant('wait' as const), minutes: fc.integer({ min: 0, max: 45 }) }),
  fc.constant({ k: 'auth' as const })
)

t.test('random operation sequences keep the state machine sound', async t => {
  let checked = 0
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
    const { deployments, config, clock } = await setup()
    const { deployment: d, token } = await deployments.begin(client, decision(config))
    let state: DeploymentState = 'booting'
    let endedAt: string | undefined
    for (const o of ops) {
      try {
        if (o.k === 'fetch') await deployments.resolveTaskSequence(d, BASE_URL)
        else if (o.k === 'status') await deployments.reportStatus(d, { step: o.step, state: o.state as 'start', progress: o.progress })
        else if (o.k === 'log') await deployments.appendLog(d, o.text)
        else if (o.k === 'finish') await deployments.finish(d, { result: o.result as 'failed' })
        else if (o.k === 'auth') await deployments.authenticate(token)
        else { clock.advance(o.minutes * 60_000); await deployments.sweep(clock.now()) }
      } catch (err) {
        if (!(err instanceof NetbootError) || err.statusCode < 400 || err.statusCode >= 500) throw err
      }
      const now = await deployments.get(d.id)
      if (now === undefined) return false
      if (now.state !== state && !LEGAL.has(`${state}>${now.state}`)) return false
      if (endedAt !== undefined && (now.endedAt !== endedAt || now.state !== state)) return false
      if (now.state === 'succeeded' || now.state === 'failed') endedAt = now.endedAt
      state = now.state
    }
    const seqs = (await deployments.events(d.id)).map(e => e.seq)
    checked++
    return seqs.every((s, i) => s === i + 1)
  }), { numRuns: 150, seed: 42 })
  t.equal(checked, 150, 'every run checked its events')
})
