import t from 'tap'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openLevelStore } from '../../src/store/level.js'
import { openStore } from '../../src/store/index.js'
import { storeContract } from './contract.js'

const root = await mkdtemp(join(tmpdir(), 'nbs-level-'))
t.teardown(async () => { await rm(root, { recursive: true, force: true }) })
let n = 0

t.test('contract', async t => {
  let dir = ''
  storeContract(t, {
    open: async () => { dir = join(root, `db${n++}`); return await openLevelStore(dir) },
    reopen: async (s) => { await s.close(); return await openLevelStore(dir) }
  })
})

t.test('openStore creates <paths.state>/db and refuses a second opener with what to do', async t => {
  const state = join(root, 'state', 'nested')
  const s = await openStore({ paths: { state } as any })
  t.teardown(async () => { await s.close() })
  await s.machines.recordSighting({ mac: 'aa:bb:cc:dd:ee:ff' }, new Date())
  const err = await openStore({ paths: { state } as any }).then(() => undefined, (e: unknown) => e)
  t.match(err, {
    code: 'NB_ERR_STORE_LOCKED',
    message: `another netboot process holds ${join(state, 'db')} — is the daemon running? use the admin API or stop it`
  })
})

t.test('a closed or unusable store rejects with StoreError carrying the cause', async t => {
  const s = await openLevelStore(join(root, 'closed'))
  await s.close()
  const err = await s.deployments.list().then(() => undefined, (e: unknown) => e) as Error & { code: string }
  t.equal(err.code, 'NB_ERR_STORE')
  t.match(err.message, /^state store failure: deployments\.list: /)
  t.ok(err.cause instanceof Error, 'the original level error is kept as cause')

  const file = join(root, 'not-a-dir')
  await writeFile(file, 'x')
  await t.rejects(openStore({ paths: { state: file } as any }), { code: 'NB_ERR_STORE', message: /cannot create/ })
})

t.test('warmUp runs the sighting path on a scratch database: nothing reaches the real one, nothing is left behind', async t => {
  const s = await openLevelStore(join(root, 'warm'))
  t.teardown(async () => { await s.close() })
  await s.machines.recordSighting({ mac: '52:54:00:00:00:01', arch: 'efi-x64' }, new Date('2026-11-24T00:00:00Z'))
  const scratch = await mkdtemp(join(tmpdir(), 'nbs-warm-tmp-'))
  t.teardown(async () => { await rm(scratch, { recursive: true, force: true }) })
  const saved = process.env.TMPDIR
  process.env.TMPDIR = scratch   // os.tmpdir(): where the scratch database goes
  t.teardown(() => { if (saved === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = saved })
  await s.warmUp?.()
  t.same((await s.machines.list()).map(m => m.mac), ['52:54:00:00:00:01'], 'the real inventory holds what it held')
  t.same(await readdir(scratch), [], 'the scratch database was deleted')
  t.match(await s.machines.get('52:54:00:00:00:01'), { firstSeen: '2026-11-24T00:00:00.000Z' }, 'and the real store still works')
})

t.test('a deployment write and its events are one LevelDB write (a crash keeps both or neither)', async t => {
  const { ClassicLevel } = await import('classic-level')
  const proto = ClassicLevel.prototype as unknown as Record<'_put' | '_del' | '_batch', (...a: unknown[]) => Promise<void>>
  const writes: string[] = []
  const s = await openLevelStore(join(root, 'one-write'))
  t.teardown(async () => { await s.close() })
  const { deployment } = await import('./contract.js')
  for (const m of ['_put', '_del', '_batch'] as const) {
    const orig = proto[m]
    proto[m] = async function (this: unknown, ...a: unknown[]) { writes.push(m); return await orig.apply(this, a) }
    t.teardown(() => { proto[m] = orig })
  }
  await s.deployments.create(deployment('d1'), [{ at: 'x', type: 'created' }, { at: 'x', type: 'booting' }])
  t.same(writes, ['_batch'], 'create with two events')
  writes.length = 0
  await s.deployments.update('d1', { state: 'running' }, [{ at: 'y', type: 'checked-in' }])
  t.same(writes, ['_batch'], 'update with its event')
  writes.length = 0
  await s.deployments.update('d1', { mac: 'aa:bb:cc:00:00:02' }, [{ at: 'z', type: 'log' }])
  t.same(writes, ['_batch'], 'update that moves the machine index, with its event')
  t.same((await s.deployments.events('d1')).map(e => `${e.seq} ${e.type}`), ['1 created', '2 booting', '3 checked-in', '4 log'])
})
