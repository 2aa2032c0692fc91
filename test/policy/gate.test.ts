// The DHCP gate on a real (memory) store: answer all, answer known (collection or inventory), store failure.
import t from 'tap'
import { createDhcpGate } from '../../src/policy/gate.js'
import { staticConfig } from '../../src/config/holder.js'
import { createBrokenStore, createMemoryStore } from '../../src/store/index.js'
import { silentLogger } from '../../src/log.js'
import { fixedClock } from '../../src/clock.js'
import type { Store } from '../../src/store/types.js'
import type { AppConfig } from '../../src/config/schema.js'
import { baseConfig, MAC, model } from './helpers.js'

async function gateFor (answer: 'all' | 'known', store: Store = createMemoryStore()) {
  const b = await baseConfig()
  const config: AppConfig = { ...model(b, { collections: [{ id: 'lab', members: [{ mac: MAC }] }, { id: 'efi', rules: [{ arch: 'efi-x64' }] }, { id: 'unknown', rules: [{ unknown: true }] }] }), dhcp: { ...b.dhcp, answer } }
  return { gate: createDhcpGate({ config: staticConfig(config), store, log: silentLogger, clock: fixedClock('2026-06-01T00:00:00Z') }), store }
}

const stranger = { mac: '02:00:00:00:00:07', arch: 'bios' as const }

t.test('answer: all answers strangers', async t => {
  const { gate } = await gateFor('all')
  t.equal(await gate.shouldAnswer(stranger), true)
})

t.test('answer: all does not even need the store', async t => {
  const { gate } = await gateFor('all', createBrokenStore())
  t.equal(await gate.shouldAnswer(stranger), true)
})

t.test('answer: known', async t => {
  const { gate, store } = await gateFor('known')
  t.equal(await gate.shouldAnswer({ mac: MAC, arch: 'bios' }), true, 'member')
  t.equal(await gate.shouldAnswer({ mac: '02:00:00:00:00:08', arch: 'efi-x64' }), true, 'rule')
  const no = await gate.shouldAnswer(stranger)
  t.type(no, 'string', 'stranger: a reason to stay silent')
  t.match(no, /unknown machine/)
  await store.machines.recordSighting({ mac: stranger.mac, arch: 'bios' }, new Date('2026-05-01T00:00:00Z'))
  t.equal(await gate.shouldAnswer(stranger), true, 'in the inventory')
})

t.test('answer: known with a broken store stays silent', async t => {
  const { gate } = await gateFor('known', createBrokenStore())
  t.equal(await gate.shouldAnswer({ mac: MAC, arch: 'bios' }), 'store unavailable')
})
