// The store calls between the DHCP thread and the main thread (src/dhcp/thread/remote-store.ts, store-bridge.ts),
// wired back to back in one thread: what the DHCP side calls is run on the main side's store, and the warm-up's dry
// run never reaches it.
import t from 'tap'
import { remoteStore } from '../../src/dhcp/thread/remote-store.js'
import { serveStoreCall } from '../../src/dhcp/thread/store-bridge.js'
import type { FromThread } from '../../src/dhcp/thread/protocol.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { Store } from '../../src/store/types.js'

/** A remote store whose calls the main side serves at once from `store`; `posted` keeps every call message. */
function backToBack (store: Store): { remote: ReturnType<typeof remoteStore>, posted: Array<Extract<FromThread, { type: 'call' }>> } {
  const posted: Array<Extract<FromThread, { type: 'call' }>> = []
  const remote = remoteStore(m => {
    if (m.type !== 'call') return
    posted.push(m)
    serveStoreCall(store, m, r => { if (r.type === 'result') remote.settle(r) })
  })
  return { remote, posted }
}

const sighting = (mac: string): { sighting: { mac: string, arch: 'efi-x64', vendorClass: string }, at: Date } =>
  ({ sighting: { mac, arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007:UNDI:003000' }, at: new Date('2026-11-24T10:00:00Z') })

t.test('calls run on the main side\'s store and their results come back', async t => {
  const store = createMemoryStore()
  const { remote } = backToBack(store)
  const out = await remote.store.machines.recordSightings([sighting('52:54:00:00:00:01')])
  t.match(out, [{ mac: '52:54:00:00:00:01', arch: 'efi-x64' }], 'the merged machine is returned')
  t.match(await store.machines.get('52:54:00:00:00:01'), { mac: '52:54:00:00:00:01' }, 'and kept by the real store')
  await t.rejects(remote.store.deployments.list(), /not available in the DHCP thread/, 'tables DHCP does not use are refused on its side')
})

t.test('in a dry run (the warm-up) the calls cross the same way, are answered, and nothing reaches the store', async t => {
  const store = createMemoryStore()
  const { remote, posted } = backToBack(store)
  remote.dryRun(true)
  await remote.store.machines.ping()
  const out = await remote.store.machines.recordSightings([sighting('02:6e:62:00:00:01'), sighting('02:6e:62:00:00:02')])
  t.match(out, [{ mac: '02:6e:62:00:00:01' }, { mac: '02:6e:62:00:00:02' }], 'answered as a store would answer')
  t.equal(await remote.store.machines.get('02:6e:62:00:00:01'), undefined, 'the stub keeps nothing')
  await t.rejects(remote.store.leases.list(), /no dry run \(only machines\)/, 'a lease call in a dry run is refused, never run')
  t.same(posted.map(m => `${m.table}.${m.method} ${m.dryRun ? 'dry' : 'real'}`),
    ['machines.ping dry', 'machines.recordSightings dry', 'machines.get dry', 'leases.list dry'], 'every call was posted, marked as a dry run')
  t.same(await store.machines.list(), [], 'the real store got none of them')
  remote.dryRun(false)
  await remote.store.machines.recordSightings([sighting('52:54:00:00:00:02')])
  t.equal(posted[posted.length - 1].dryRun, false, 'after the dry run, calls are real again')
  t.match(await store.machines.list(), [{ mac: '52:54:00:00:00:02' }], 'and reach the store')
})

t.test('a call outside the bridged methods is refused by the main side, even if posted', async t => {
  const store = createMemoryStore()
  let result: unknown
  await new Promise<void>(resolve => {
    serveStoreCall(store, { type: 'call', id: 1, table: 'machines', method: 'delete', args: ['52:54:00:00:00:03'], dryRun: false }, r => { result = r; resolve() })
  })
  t.match(result, { type: 'result', id: 1, ok: false, error: { message: /machines\.delete is not bridged/ } })
})
