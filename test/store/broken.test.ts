// The failure fakes other areas' tests rely on: every call rejects with StoreError; failingStore breaks on demand.
import t from 'tap'
import { createBrokenStore, failingStore } from '../../src/store/broken.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { Store } from '../../src/store/types.js'

const calls = (s: Store): Array<[string, () => Promise<unknown>]> => [
  ['machines.get', async () => await s.machines.get('aa:bb:cc:dd:ee:ff')],
  ['machines.recordSighting', async () => await s.machines.recordSighting({ mac: 'aa:bb:cc:dd:ee:ff' }, new Date())],
  ['machines.recordSightings', async () => await s.machines.recordSightings([{ sighting: { mac: 'aa:bb:cc:dd:ee:ff' }, at: new Date() }])],
  ['machines.ping', async () => await s.machines.ping()],
  ['machines.update', async () => await s.machines.update('aa:bb:cc:dd:ee:ff', { protected: true })],
  ['machines.list', async () => await s.machines.list()],
  ['deployments.get', async () => await s.deployments.get('d')],
  ['deployments.list', async () => await s.deployments.list()],
  ['deployments.listByMachine', async () => await s.deployments.listByMachine('aa:bb:cc:dd:ee:ff')],
  ['deployments.update', async () => await s.deployments.update('d', {})],
  ['deployments.appendEvent', async () => await s.deployments.appendEvent({ deploymentId: 'd', at: 'x', type: 'log' })],
  ['deployments.events', async () => await s.deployments.events('d')],
  ['leases.put', async () => await s.leases.put({ mac: 'aa:bb:cc:dd:ee:ff', ip: '10.0.0.1', state: 'bound', expiresAt: 'x' })],
  ['leases.list', async () => await s.leases.list()],
  ['images.get', async () => await s.images.get('i')],
  ['images.delete', async () => await s.images.delete('i')]
]

t.test('createBrokenStore: every call rejects with StoreError (503), close resolves', async t => {
  const s = createBrokenStore()
  for (const [name, call] of calls(s)) {
    await t.rejects(call(), { code: 'NB_ERR_STORE', statusCode: 503, message: /^state store failure: / }, name)
  }
  await t.resolves(s.close())
})

t.test('failingStore: works until told to fail, per collection and method', async t => {
  let broken = false
  const s = failingStore(createMemoryStore(), (c, m) => broken && c === 'deployments' && m === 'appendEvent')
  t.equal((await s.deployments.appendEvent({ deploymentId: 'd', at: 'x', type: 'log' })).seq, 1)
  broken = true
  await t.rejects(s.deployments.appendEvent({ deploymentId: 'd', at: 'x', type: 'log' }), { code: 'NB_ERR_STORE', message: /deployments\.appendEvent/ })
  t.equal((await s.deployments.events('d')).length, 1, 'other methods still work, and the failed call wrote nothing')
  broken = false
  t.equal((await s.deployments.appendEvent({ deploymentId: 'd', at: 'x', type: 'log' })).seq, 2)
  await s.close()
})
