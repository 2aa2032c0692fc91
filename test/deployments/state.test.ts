// The state machine: every pair of states, then every operation in every state through the service.
import t from 'tap'
import { assertTransition, canTransition, LEGAL_TRANSITIONS } from '../../src/deployments/state.js'
import type { DeploymentState } from '../../src/store/types.js'
import { BASE_URL, client, decision, setup } from './helpers.js'

const STATES: DeploymentState[] = ['advertised', 'booting', 'running', 'succeeded', 'failed']
const LEGAL = new Set(['advertised>booting', 'advertised>failed', 'booting>running', 'booting>failed', 'running>running', 'running>succeeded', 'running>failed'])

t.test('every transition, legal or not', async t => {
  for (const from of STATES) {
    for (const to of STATES) {
      const legal = LEGAL.has(`${from}>${to}`)
      t.equal(canTransition(from, to), legal, `${from} → ${to} ${legal ? 'legal' : 'illegal'}`)
      if (legal) t.doesNotThrow(() => assertTransition('d1', from, to))
      else t.throws(() => assertTransition('d1', from, to), { code: 'NB_ERR_CONFLICT', statusCode: 409, message: new RegExp(`deployment d1 (is|already) ${from}: it cannot become ${to}`) })
    }
  }
  t.equal(Object.keys(LEGAL_TRANSITIONS).length, STATES.length)
})

t.test('booting: status and success are refused until the PE fetches its sequence', async t => {
  const { deployments, config } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  t.equal(d.state, 'booting')
  await t.rejects(deployments.reportStatus(d, { step: 0, state: 'start' }), { code: 'NB_ERR_CONFLICT', message: /must fetch its task sequence/ })
  await t.rejects(deployments.finish(d, { result: 'succeeded' }), { code: 'NB_ERR_CONFLICT', message: /is booting: it cannot become succeeded/ })
  t.equal((await deployments.get(d.id))?.state, 'booting', 'unchanged after refused calls')
  const logged = await deployments.appendLog(d, 'dhcp: no lease yet\n')
  t.equal(logged.state, 'booting', 'logs are accepted while booting')
  const failed = await deployments.finish(d, { result: 'failed', error: 'no disk found' })
  t.equal(failed.state, 'failed', 'booting → failed')
  t.equal(failed.error, 'no disk found')
})

t.test('running: steps, then succeeded; nothing after the end', async t => {
  const { deployments, config, clock } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(d, BASE_URL)
  t.equal((await deployments.get(d.id))?.state, 'running', 'first fetch: booting → running')
  await deployments.resolveTaskSequence(d, BASE_URL)
  t.equal((await deployments.get(d.id))?.state, 'running', 'second fetch keeps running')
  clock.advance(1000)
  let cur = await deployments.reportStatus(d, { step: 1, state: 'start' })
  t.match(cur, { state: 'running', currentStep: 1, progress: 0 })
  cur = await deployments.reportStatus(d, { step: 1, state: 'progress', progress: 42 })
  t.match(cur, { currentStep: 1, progress: 42 })
  cur = await deployments.reportStatus(d, { step: 1, state: 'end' })
  t.match(cur, { progress: 100 })
  await t.rejects(deployments.reportStatus(d, { step: 7, state: 'start' }), { code: 'NB_ERR_BAD_REQUEST', message: /step 7 is out of range: the task sequence has steps 0\.\.6/ })
  await t.rejects(deployments.reportStatus(d, { step: -1, state: 'start' }), { code: 'NB_ERR_BAD_REQUEST' })
  await t.rejects(deployments.reportStatus(d, { step: 1.5, state: 'start' }), { code: 'NB_ERR_BAD_REQUEST' })
  await t.rejects(deployments.reportStatus(d, { step: 1, state: 'bogus' as 'start' }), { code: 'NB_ERR_BAD_REQUEST', message: /state must be/ })
  await t.rejects(deployments.reportStatus(d, { step: 1, state: 'progress', progress: 101 }), { code: 'NB_ERR_BAD_REQUEST', message: /progress must be/ })
  await t.rejects(deployments.finish(d, { result: 'maybe' as 'failed' }), { code: 'NB_ERR_BAD_REQUEST' })
  const done = await deployments.finish(d, { result: 'succeeded', logTail: 'all good\n' })
  t.match(done, { state: 'succeeded', endedAt: '2026-06-01T12:00:01.000Z', logTail: 'all good\n' })
  await t.rejects(deployments.reportStatus(d, { step: 2, state: 'start' }), { code: 'NB_ERR_CONFLICT', statusCode: 409, message: /already succeeded/ })
  await t.rejects(deployments.appendLog(d, 'late'), { code: 'NB_ERR_CONFLICT' })
  await t.rejects(deployments.finish(d, { result: 'failed' }), { code: 'NB_ERR_CONFLICT', message: /already succeeded: it cannot become failed/ })
  await t.rejects(deployments.finish(d, { result: 'succeeded' }), { code: 'NB_ERR_CONFLICT' })
  await t.rejects(deployments.resolveTaskSequence(d, BASE_URL), { code: 'NB_ERR_CONFLICT' })
  const types = (await deployments.events(d.id)).map(e => e.type)
  t.same(types, ['created', 'booting', 'checked-in', 'step-start', 'step-progress', 'step-end', 'succeeded'])
})

t.test('running → failed with the PE error; a failed step alone does not end it', async t => {
  const { deployments, config } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(d, BASE_URL)
  const cur = await deployments.reportStatus(d, { step: 4, state: 'error', message: 'exit 3' })
  t.equal(cur.state, 'running', 'continueOnError steps may fail: the PE decides with /result')
  const failed = await deployments.finish(d, { result: 'failed', error: 'step 4 failed: exit 3', logTail: 'exit 3\n' })
  t.match(failed, { state: 'failed', error: 'step 4 failed: exit 3', currentStep: 4, logTail: 'exit 3\n' })
  const ev = await deployments.events(d.id)
  t.same(ev.map(e => e.type), ['created', 'booting', 'checked-in', 'step-error', 'failed'])
  t.match(ev[3], { step: 4, message: 'exit 3', seq: 4 })
  await t.rejects(deployments.finish(d, { result: 'succeeded' }), { code: 'NB_ERR_CONFLICT', message: /already failed/ })
})

t.test('unknown deployments', async t => {
  const { deployments, config } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  const ghost = { ...d, id: 'ffffffffffff' }
  await t.rejects(deployments.reportStatus(ghost, { step: 0, state: 'start' }), { code: 'NB_ERR_NOT_FOUND' })
  t.equal(await deployments.get('ffffffffffff'), undefined)
  await t.rejects(deployments.events('ffffffffffff'), { code: 'NB_ERR_NOT_FOUND' })
})
