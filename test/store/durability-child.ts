// Child process for durability.test.ts: writes to a level store forever and prints one line per acknowledged
// write ("written <kind> <key> <detail>") so the parent can SIGKILL it mid-way and check what survived.
import { openLevelStore } from '../../src/store/level.js'
import { deployment } from './contract.js'

const dir = process.argv[2]
const first = Number(process.argv[3] ?? '0')
if (dir === undefined) throw new Error('usage: durability-child.ts DIR [FIRST-INDEX]')
const store = await openLevelStore(dir)
const say = (line: string): void => { process.stdout.write(`written ${line}\n`) }
say('open - -')

for (let i = first; i < first + 100_000; i++) {
  const id = `dep-${i}`
  const mac = `02:00:00:00:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`
  await store.deployments.create(deployment(id, { mac }), [{ at: new Date().toISOString(), type: 'created' }])
  say(`deployment ${id} advertised`)
  // Three concurrent appends: each is acknowledged on its own, seqs must still be unique.
  await Promise.all(['booting', 'step-start', 'log'].map(async type => {
    const e = await store.deployments.appendEvent({ deploymentId: id, at: new Date().toISOString(), type })
    say(`event ${id} ${e.seq}`)
  }))
  // The state change and the event that records it: one write (the parent checks no deployment has one alone).
  await store.deployments.update(id, { state: 'running', currentStep: 0 }, [{ at: new Date().toISOString(), type: 'checked-in' }])
  say(`deployment ${id} running`)
  await store.leases.put({ mac, ip: `10.9.${(i >> 8) & 0xff}.${i & 0xff}`, state: 'bound', expiresAt: '2030-01-01T00:00:00.000Z' })
  say(`lease ${mac} bound`)
  await store.machines.recordSighting({ mac, arch: 'bios' }, new Date())
  say(`machine ${mac} seen`)
}
