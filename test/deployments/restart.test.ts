// A daemon restart mid-deployment on the level store: begin, report step 1, close the store, reopen it (a new
// process would do exactly this), then the PE carries on with the same token and the story is complete.
import t from 'tap'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openLevelStore } from '../../src/store/level.js'
import { BASE_URL, client, decision, setup } from './helpers.js'

t.test('restart mid-deployment loses nothing', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'nbp-restart-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })

  const before = await setup({ store: await openLevelStore(dir) })
  const { deployment: d, token } = await before.deployments.begin(client, decision(before.config))
  await before.deployments.resolveTaskSequence(d, BASE_URL)
  await before.deployments.reportStatus(d, { step: 0, state: 'start' })
  await before.deployments.reportStatus(d, { step: 0, state: 'end' })
  await before.deployments.reportStatus(d, { step: 1, state: 'start', message: 'applying image' })
  await before.store.close()

  const after = await setup({ store: await openLevelStore(dir) })
  t.teardown(async () => { await after.store.close() })
  after.clock.advance(5 * 60_000)
  const again = await after.deployments.authenticate(token)
  t.match(again, { id: d.id, state: 'running', currentStep: 1 }, 'same token after the restart')
  const r = await after.deployments.resolveTaskSequence(again, BASE_URL)
  t.equal(r.deploymentId, d.id, 'the sequence can be fetched again')
  await after.deployments.reportStatus(again, { step: 1, state: 'progress', progress: 50 })
  await after.deployments.reportStatus(again, { step: 1, state: 'end' })
  await after.deployments.reportStatus(again, { step: 2, state: 'start' })
  await after.deployments.reportStatus(again, { step: 2, state: 'end' })
  await after.deployments.appendLog(again, 'wimapply: done\n')
  const done = await after.deployments.finish(again, { result: 'succeeded' })
  t.match(done, { state: 'succeeded', endedAt: '2026-06-01T12:05:00.000Z', logTail: 'wimapply: done\n' })
  const ev = await after.deployments.events(d.id)
  t.same(ev.map(e => `${e.seq} ${e.type}${e.step !== undefined ? ` ${e.step}` : ''}`), [
    '1 created', '2 booting', '3 checked-in', '4 step-start 0', '5 step-end 0', '6 step-start 1',
    '7 step-progress 1', '8 step-end 1', '9 step-start 2', '10 step-end 2', '11 log', '12 succeeded'
  ])
  await t.rejects(after.deployments.authenticate(token), { code: 'NB_ERR_UNAUTHORIZED' }, 'token dead once ended')
  t.same(await after.deployments.sweep(new Date('2027-01-01T00:00:00Z')), [], 'nothing left to sweep')
})

t.test('a token that expired while the daemon was down is refused after the restart', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'nbp-restart-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const before = await setup({ store: await openLevelStore(dir) })
  const { token } = await before.deployments.begin(client, decision(before.config))
  await before.store.close()
  const after = await setup({ store: await openLevelStore(dir) })
  t.teardown(async () => { await after.store.close() })
  after.clock.advance(121 * 60_000)
  await t.rejects(after.deployments.authenticate(token), { code: 'NB_ERR_UNAUTHORIZED', statusCode: 401 })
  t.equal((await after.deployments.sweep(after.clock.now())).length, 1, 'and the sweep fails the deployment')
})

t.test('a store that fails mid-way surfaces StoreError and leaves the deployment consistent', async t => {
  const { failingStore, createMemoryStore } = await import('../../src/store/index.js')
  let broken = false
  const store = failingStore(createMemoryStore(), (c, m) => broken && c === 'deployments' && m === 'update')
  const { deployments, config } = await setup({ store })
  const { deployment: d, token } = await deployments.begin(client, decision(config))
  broken = true
  await t.rejects(deployments.resolveTaskSequence(d, BASE_URL), { code: 'NB_ERR_STORE', statusCode: 503 })
  broken = false
  t.equal((await deployments.get(d.id))?.state, 'booting', 'not moved on failure')
  t.equal((await deployments.authenticate(token)).id, d.id, 'the PE can retry')
  await deployments.resolveTaskSequence(d, BASE_URL)
  t.equal((await deployments.get(d.id))?.state, 'running')
})
