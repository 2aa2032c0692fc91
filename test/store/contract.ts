// One contract suite for every Store implementation (memory.test.ts, level.test.ts run it).
import type { Test } from 'tap'
import type { Deployment, Lease, ImageEntry, Store } from '../../src/store/types.js'

export interface StoreHarness {
  open (): Promise<Store>
  /** Close and reopen the same underlying data (durable stores only). */
  reopen?: (s: Store) => Promise<Store>
}

const MAC = 'aa:bb:cc:00:00:01'
const MAC2 = 'aa:bb:cc:00:00:02'

export function deployment (id: string, over: Partial<Deployment> = {}): Deployment {
  return {
    id,
    advertisementId: 'adv-win11',
    taskSequenceId: 'ts-win11',
    mac: MAC,
    purpose: 'required',
    state: 'advertised',
    tokenHash: 'ab'.repeat(32),
    tokenExpiresAt: '2026-01-02T00:00:00.000Z',
    totalSteps: 4,
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    ...over
  }
}

const lease = (mac: string, ip: string): Lease => ({ mac, ip, state: 'bound', expiresAt: '2026-01-01T01:00:00.000Z' })
const image = (id: string): ImageEntry => ({
  id, file: `${id}.wim`, size: 1234, sha256: 'cd'.repeat(32), addedAt: '2026-01-01T00:00:00.000Z', wim: { images: [{ index: 1, name: 'Pro' }] }
})

export function storeContract (t: Test, h: StoreHarness): void {
  let store: Store
  t.beforeEach(async () => { store = await h.open() })
  t.afterEach(async () => { await store.close() })

  t.test('machines: a first sighting creates the machine with firstSeen = lastSeen', async t => {
    t.equal(await store.machines.get(MAC), undefined)
    const at = new Date('2026-01-01T10:00:00.000Z')
    const m = await store.machines.recordSighting({ mac: MAC, arch: 'efi-x64', uuid: '11111111-2222-3333-4444-555555555555' }, at)
    t.same(m, { mac: MAC, arch: 'efi-x64', uuid: '11111111-2222-3333-4444-555555555555', firstSeen: at.toISOString(), lastSeen: at.toISOString() })
    t.same(await store.machines.get(MAC), m)
  })

  t.test('machines: sightings merge — undefined keeps stored values, firstSeen only goes back, lastSeen only advances', async t => {
    await store.machines.recordSighting({ mac: MAC, arch: 'bios', serial: 'SN1', ip: '10.0.0.5' }, new Date('2026-01-01T10:00:00Z'))
    await store.machines.update(MAC, { protected: true })
    const m = await store.machines.recordSighting({ mac: MAC, arch: 'efi-x64', serial: undefined, vendorClass: 'PXEClient:Arch:00007' }, new Date('2026-01-02T10:00:00Z'))
    t.equal(m.arch, 'efi-x64', 'defined field overwrites')
    t.equal(m.serial, 'SN1', 'undefined field keeps the stored value')
    t.equal(m.ip, '10.0.0.5', 'absent field keeps the stored value')
    t.equal(m.vendorClass, 'PXEClient:Arch:00007')
    t.equal(m.protected, true, 'a sighting never drops admin flags')
    t.equal(m.firstSeen, '2026-01-01T10:00:00.000Z')
    t.equal(m.lastSeen, '2026-01-02T10:00:00.000Z')
    const late = await store.machines.recordSighting({ mac: MAC }, new Date('2025-12-31T00:00:00Z'))
    t.equal(late.lastSeen, '2026-01-02T10:00:00.000Z', 'a late-arriving older sighting does not move lastSeen back')
    t.equal(late.firstSeen, '2025-12-31T00:00:00.000Z', 'but it moves firstSeen back: DHCP writes behind a storm, after the iPXE request may have been recorded')
    t.same(await store.machines.get(MAC), late)
  })

  t.test('machines: concurrent sightings of one machine lose nothing', async t => {
    await Promise.all([
      store.machines.recordSighting({ mac: MAC, serial: 'S' }, new Date('2026-01-01T00:00:01Z')),
      store.machines.recordSighting({ mac: MAC, uuid: '11111111-2222-3333-4444-555555555555' }, new Date('2026-01-01T00:00:02Z')),
      store.machines.recordSighting({ mac: MAC, arch: 'bios' }, new Date('2026-01-01T00:00:03Z'))
    ])
    const m = await store.machines.get(MAC)
    t.match(m, { serial: 'S', uuid: '11111111-2222-3333-4444-555555555555', arch: 'bios', lastSeen: '2026-01-01T00:00:03.000Z' })
  })

  t.test('machines: recordSightings creates new machines and merges into stored ones, in list order', async t => {
    await store.machines.recordSighting({ mac: MAC, arch: 'bios', serial: 'SN1' }, new Date('2026-01-01T10:00:00Z'))
    await store.machines.update(MAC, { protected: true })
    const at = new Date('2026-01-02T10:00:00Z')
    const got = await store.machines.recordSightings([
      { sighting: { mac: MAC2, arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007' }, at },
      { sighting: { mac: MAC, arch: 'efi-x64', serial: undefined }, at }
    ])
    t.same(got[0], { mac: MAC2, arch: 'efi-x64', vendorClass: 'PXEClient:Arch:00007', firstSeen: at.toISOString(), lastSeen: at.toISOString() }, 'new machine: firstSeen = lastSeen')
    t.same(got[1], { mac: MAC, arch: 'efi-x64', serial: 'SN1', protected: true, firstSeen: '2026-01-01T10:00:00.000Z', lastSeen: at.toISOString() },
      'merged as recordSighting merges: defined fields overwrite, firstSeen and admin flags kept')
    t.same(await store.machines.list(), [got[1], got[0]], 'both stored')
    got[0].arch = 'bios'
    t.equal((await store.machines.get(MAC2))?.arch, 'efi-x64', 'returned objects are copies')
  })

  t.test('machines: recordSightings with one MAC twice merges the second into the first', async t => {
    const got = await store.machines.recordSightings([
      { sighting: { mac: MAC, arch: 'bios', serial: 'S' }, at: new Date('2026-01-01T00:00:02Z') },
      { sighting: { mac: MAC, uuid: '11111111-2222-3333-4444-555555555555' }, at: new Date('2026-01-01T00:00:03Z') },
      { sighting: { mac: MAC, arch: 'efi-x64' }, at: new Date('2026-01-01T00:00:01Z') }
    ])
    t.equal(got.length, 3, 'one machine per entry')
    t.same(got[0], { mac: MAC, arch: 'bios', serial: 'S', firstSeen: '2026-01-01T00:00:02.000Z', lastSeen: '2026-01-01T00:00:02.000Z' })
    const last = { mac: MAC, arch: 'efi-x64', serial: 'S', uuid: '11111111-2222-3333-4444-555555555555', firstSeen: '2026-01-01T00:00:01.000Z', lastSeen: '2026-01-01T00:00:03.000Z' }
    t.same(got[2], last, 'later entries merge into earlier ones; an older time does not move lastSeen back, and moves firstSeen back')
    t.same(await store.machines.get(MAC), last)
    t.same(await store.machines.list(), [last], 'one record')
  })

  t.test('machines: recordSightings of an empty list writes nothing', async t => {
    t.same(await store.machines.recordSightings([]), [])
    t.same(await store.machines.list(), [])
  })

  t.test('machines: recordSightings racing update, recordSighting and another batch of the same MACs loses nothing', async t => {
    await store.machines.recordSightings([{ sighting: { mac: MAC }, at: new Date('2026-01-01T00:00:00Z') }, { sighting: { mac: MAC2 }, at: new Date('2026-01-01T00:00:00Z') }])
    for (let round = 0; round < 5; round++) {
      const at = new Date(Date.UTC(2026, 0, 2, 0, 0, round))
      await Promise.all([
        store.machines.recordSightings([{ sighting: { mac: MAC, serial: `S${round}` }, at }, { sighting: { mac: MAC2, serial: `S${round}` }, at }]),
        store.machines.update(MAC, { reimageAfter: `r${round}` }),
        store.machines.recordSightings([{ sighting: { mac: MAC2, product: `P${round}` }, at }, { sighting: { mac: MAC, product: `P${round}` }, at }]),
        store.machines.recordSighting({ mac: MAC, manufacturer: `M${round}` }, at),
        store.machines.update(MAC2, { reimageAfter: `r${round}` })
      ])
      for (const mac of [MAC, MAC2]) {
        t.match(await store.machines.get(mac), { serial: `S${round}`, product: `P${round}`, reimageAfter: `r${round}`, lastSeen: at.toISOString() }, `round ${round} ${mac}: every writer's field is there`)
      }
      t.match(await store.machines.get(MAC), { manufacturer: `M${round}` })
    }
  })

  t.test('machines: ping resolves on a working store and leaves the machine list alone', async t => {
    await store.machines.ping()
    await store.machines.ping()
    t.same(await store.machines.list(), [])
  })

  t.test('machines: update patches, removes keys set to undefined, rejects a missing machine', async t => {
    await store.machines.recordSighting({ mac: MAC }, new Date('2026-01-01T00:00:00Z'))
    const u = await store.machines.update(MAC, { protected: true, reimageAfter: '2026-02-01T00:00:00.000Z' })
    t.equal(u.protected, true)
    t.equal(u.firstSeen, '2026-01-01T00:00:00.000Z')
    const cleared = await store.machines.update(MAC, { reimageAfter: undefined })
    t.notOk('reimageAfter' in cleared, 'undefined in a patch removes the field')
    t.equal(cleared.protected, true)
    t.same(await store.machines.get(MAC), cleared)
    await t.rejects(store.machines.update(MAC2, { protected: true }), { code: 'NB_ERR_NOT_FOUND', statusCode: 404 })
    t.equal(await store.machines.get(MAC2), undefined, 'a failed update creates nothing')
  })

  t.test('machines: list is sorted by MAC', async t => {
    await store.machines.recordSighting({ mac: MAC2 }, new Date())
    await store.machines.recordSighting({ mac: MAC }, new Date())
    t.same((await store.machines.list()).map(m => m.mac), [MAC, MAC2])
  })

  t.test('deployments: create, get, list, listByMachine (oldest first), duplicate id is a conflict', async t => {
    await store.deployments.create(deployment('d2', { createdAt: '2026-01-03T00:00:00.000Z' }))
    await store.deployments.create(deployment('d1', { createdAt: '2026-01-02T00:00:00.000Z' }))
    await store.deployments.create(deployment('d3', { mac: MAC2 }))
    t.same(await store.deployments.get('d1'), deployment('d1', { createdAt: '2026-01-02T00:00:00.000Z' }))
    t.equal(await store.deployments.get('nope'), undefined)
    t.same((await store.deployments.list()).map(d => d.id), ['d1', 'd2', 'd3'])
    t.same((await store.deployments.listByMachine(MAC)).map(d => d.id), ['d1', 'd2'])
    t.same((await store.deployments.listByMachine(MAC2)).map(d => d.id), ['d3'])
    t.same(await store.deployments.listByMachine('aa:bb:cc:00:00:09'), [])
    await t.rejects(store.deployments.create(deployment('d1', { state: 'failed' })), { code: 'NB_ERR_CONFLICT' })
    t.equal((await store.deployments.get('d1'))?.state, 'advertised', 'the conflicting create changed nothing')
  })

  t.test('deployments: update merges the patch, keeps the id, rejects a missing deployment', async t => {
    await store.deployments.create(deployment('d1', { error: 'old' }))
    const u = await store.deployments.update('d1', { state: 'running', currentStep: 1, progress: 40, error: undefined, updatedAt: '2026-01-01T00:05:00.000Z' })
    t.match(u, { id: 'd1', state: 'running', currentStep: 1, progress: 40, updatedAt: '2026-01-01T00:05:00.000Z', totalSteps: 4 })
    t.notOk('error' in u)
    t.same(await store.deployments.get('d1'), u)
    await t.rejects(store.deployments.update('missing', { state: 'failed' }), { code: 'NB_ERR_NOT_FOUND' })
    t.equal(await store.deployments.get('missing'), undefined)
  })

  t.test('deployments: moving a deployment to another MAC moves it in listByMachine', async t => {
    await store.deployments.create(deployment('d1'))
    await store.deployments.update('d1', { mac: MAC2 })
    t.same(await store.deployments.listByMachine(MAC), [])
    t.same((await store.deployments.listByMachine(MAC2)).map(d => d.id), ['d1'])
  })

  t.test('events: seq 1, 2, 3… per deployment, in order', async t => {
    await store.deployments.create(deployment('d1'))
    const a = await store.deployments.appendEvent({ deploymentId: 'd1', at: '2026-01-01T00:00:00.000Z', type: 'created' })
    const b = await store.deployments.appendEvent({ deploymentId: 'd1', at: '2026-01-01T00:00:01.000Z', type: 'step-start', step: 0, message: 'partition' })
    const c = await store.deployments.appendEvent({ deploymentId: 'd2', at: '2026-01-01T00:00:02.000Z', type: 'created' })
    t.same([a.seq, b.seq, c.seq], [1, 2, 1])
    t.same(b, { deploymentId: 'd1', seq: 2, at: '2026-01-01T00:00:01.000Z', type: 'step-start', step: 0, message: 'partition' })
    t.same(await store.deployments.events('d1'), [a, b])
    t.same(await store.deployments.events('d2'), [c])
    t.same(await store.deployments.events('d'), [], 'a prefix of an id is another deployment')
    t.same(await store.deployments.events('nope'), [])
  })

  t.test('events: concurrent appends get unique, gapless seqs', async t => {
    const n = 50
    const got = await Promise.all(Array.from({ length: n }, async (_, i) =>
      await store.deployments.appendEvent({ deploymentId: 'd1', at: '2026-01-01T00:00:00.000Z', type: 'log', message: `line ${i}` })))
    t.same(got.map(e => e.seq).sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i + 1))
    const stored = await store.deployments.events('d1')
    t.equal(stored.length, n)
    t.same(stored.map(e => e.seq), Array.from({ length: n }, (_, i) => i + 1), 'events come back in seq order past 9 and 10')
    t.same(new Set(stored.map(e => e.message)).size, n, 'no event overwrote another')
  })

  t.test('events written with create and update take the next seqs, mixed with appendEvent, concurrently', async t => {
    await store.deployments.create(deployment('d1'), [{ at: '2026-01-01T00:00:00.000Z', type: 'created' }, { at: '2026-01-01T00:00:00.000Z', type: 'booting', message: 'PE booting' }])
    t.same(await store.deployments.events('d1'), [
      { deploymentId: 'd1', seq: 1, at: '2026-01-01T00:00:00.000Z', type: 'created' },
      { deploymentId: 'd1', seq: 2, at: '2026-01-01T00:00:00.000Z', type: 'booting', message: 'PE booting' }
    ], 'create stores its events with seqs 1 and 2')
    const n = 20
    await Promise.all(Array.from({ length: n }, async (_, i) => i % 2 === 0
      ? await store.deployments.update('d1', { progress: i }, [{ at: '2026-01-01T00:00:01.000Z', type: 'step-progress', progress: i }])
      : await store.deployments.appendEvent({ deploymentId: 'd1', at: '2026-01-01T00:00:01.000Z', type: 'log', message: `line ${i}` })))
    const stored = await store.deployments.events('d1')
    t.same(stored.map(e => e.seq), Array.from({ length: n + 2 }, (_, i) => i + 1), 'gapless, no seq taken twice')
    t.equal(stored.filter(e => e.type === 'step-progress').length, n / 2, 'every update stored its event')
    t.same(await store.deployments.update('d1', { state: 'running' }, []), { ...deployment('d1'), progress: 18, state: 'running' }, 'an empty list: the update alone')
    t.equal((await store.deployments.events('d1')).length, n + 2)
  })

  t.test('a rejected create or update stores none of its events', async t => {
    await store.deployments.create(deployment('d1'), [{ at: 'x', type: 'created' }])
    await t.rejects(store.deployments.create(deployment('d1'), [{ at: 'y', type: 'created' }]), { code: 'NB_ERR_CONFLICT' })
    await t.rejects(store.deployments.update('missing', { state: 'failed' }, [{ at: 'x', type: 'failed' }]), { code: 'NB_ERR_NOT_FOUND' })
    t.same((await store.deployments.events('d1')).map(e => e.at), ['x'], 'the conflicting create added no event')
    t.same(await store.deployments.events('missing'), [], 'the failed update added no event')
    t.equal((await store.deployments.appendEvent({ deploymentId: 'd1', at: 'z', type: 'log' })).seq, 2, 'and took no seq')
  })

  t.test('leases and images: put, get, list, delete', async t => {
    await store.leases.put(lease(MAC2, '10.0.0.11'))
    await store.leases.put(lease(MAC, '10.0.0.10'))
    await store.leases.put({ ...lease(MAC, '10.0.0.12'), state: 'offered' })
    t.same(await store.leases.get(MAC), { ...lease(MAC, '10.0.0.12'), state: 'offered' }, 'put replaces')
    t.same((await store.leases.list()).map(l => l.ip), ['10.0.0.12', '10.0.0.11'])
    await store.leases.delete(MAC)
    await store.leases.delete('aa:bb:cc:00:00:99')
    t.equal(await store.leases.get(MAC), undefined)
    t.equal((await store.leases.list()).length, 1)

    await store.images.put(image('win11'))
    await store.images.put(image('debian'))
    t.same(await store.images.get('win11'), image('win11'))
    t.same((await store.images.list()).map(i => i.id), ['debian', 'win11'])
    await store.images.delete('win11')
    t.equal(await store.images.get('win11'), undefined)
  })

  t.test('returned objects are copies: mutating them or the input changes nothing stored', async t => {
    const m = await store.machines.recordSighting({ mac: MAC, serial: 'S' }, new Date('2026-01-01T00:00:00Z'))
    m.serial = 'MUTATED'
    ;(await store.machines.get(MAC))!.serial = 'MUTATED'
    ;(await store.machines.list())[0]!.serial = 'MUTATED'
    t.equal((await store.machines.get(MAC))?.serial, 'S')

    const d = deployment('d1')
    await store.deployments.create(d)
    d.state = 'failed'
    const got = await store.deployments.get('d1')
    got!.state = 'failed'
    ;(await store.deployments.listByMachine(MAC))[0]!.state = 'failed'
    ;(await store.deployments.update('d1', { progress: 1 })).state = 'failed'
    t.equal((await store.deployments.get('d1'))?.state, 'advertised')

    const e = await store.deployments.appendEvent({ deploymentId: 'd1', at: 'x', type: 'log', message: 'm' })
    e.message = 'MUTATED'
    ;(await store.deployments.events('d1'))[0]!.message = 'MUTATED'
    t.equal((await store.deployments.events('d1'))[0]?.message, 'm')

    const img = image('win11')
    await store.images.put(img)
    ;(img.wim as any).images[0].name = 'MUTATED'
    ;((await store.images.get('win11'))!.wim as any).images[0].name = 'MUTATED'
    t.same((await store.images.get('win11'))?.wim, { images: [{ index: 1, name: 'Pro' }] })

    const l = lease(MAC, '10.0.0.10')
    await store.leases.put(l)
    l.ip = '6.6.6.6'
    t.equal((await store.leases.get(MAC))?.ip, '10.0.0.10')
  })

  if (h.reopen !== undefined) {
    const reopen = h.reopen
    t.test('everything written is there after close and reopen, and seq continues', async t => {
      await store.machines.recordSighting({ mac: MAC, arch: 'bios' }, new Date('2026-01-01T00:00:00Z'))
      await store.deployments.create(deployment('d1'))
      await store.deployments.update('d1', { state: 'succeeded', endedAt: '2026-01-01T01:00:00.000Z' })
      await store.deployments.appendEvent({ deploymentId: 'd1', at: 'x', type: 'created' })
      await store.deployments.appendEvent({ deploymentId: 'd1', at: 'y', type: 'succeeded' })
      await store.leases.put(lease(MAC, '10.0.0.10'))
      await store.images.put(image('win11'))
      store = await reopen(store)
      t.match(await store.machines.get(MAC), { arch: 'bios', firstSeen: '2026-01-01T00:00:00.000Z' })
      t.match(await store.deployments.get('d1'), { state: 'succeeded', endedAt: '2026-01-01T01:00:00.000Z' })
      t.same((await store.deployments.listByMachine(MAC)).map(d => d.id), ['d1'])
      t.same((await store.deployments.events('d1')).map(e => e.type), ['created', 'succeeded'])
      t.equal((await store.deployments.appendEvent({ deploymentId: 'd1', at: 'z', type: 'log' })).seq, 3, 'seq continues after reopen')
      t.same(await store.leases.get(MAC), lease(MAC, '10.0.0.10'))
      t.same(await store.images.get('win11'), image('win11'))
    })
  }
}
