// What the PE receives (resolved sequence), what it may send (logs, progress), the sweep of silent PEs and the
// admin operations, and the policy seeing the result: a required deployment runs once, until a re-image.
import t from 'tap'
import { decide } from '../../src/policy/decide.js'
import { LOG_TAIL_BYTES, tailBytes } from '../../src/deployments/deployments.js'
import { createService } from '../../src/deployments/service.js'
import { BASE_URL, client, decision, other, setup, T0 } from './helpers.js'

t.test('resolved task sequence: URLs, catalogue, variables, computer name', async t => {
  const { deployments, config, store } = await setup()
  await store.machines.recordSighting({ mac: client.mac, arch: 'efi-x64', uuid: '8c5d1a3e-0000-4000-8000-0000000000a1', serial: 'SN42', manufacturer: 'QEMU', product: 'Standard PC' }, new Date(T0))
  await store.images.put({ id: 'win11-ent', file: 'win11.wim', size: 123456, sha256: 'ab'.repeat(32), addedAt: T0, wim: {} })
  const { deployment: d } = await deployments.begin(client, decision(config))
  const r = await deployments.resolveTaskSequence(d, BASE_URL + '/')
  t.match(r, { deploymentId: d.id, taskSequenceId: 'win11', name: 'Windows 11 — wipe and load', applianceUrl: BASE_URL })
  t.same(r.variables, {
    OSDComputerName: 'PC-SN42',
    ORG: 'Example',
    GREETING: 'hello Example from PC-SN42',
    SHELLY: '${NOT_A_VAR}',
    MAC: client.mac,
    UUID: '8c5d1a3e-0000-4000-8000-0000000000a1',
    SERIAL: 'SN42',
    MANUFACTURER: 'QEMU',
    PRODUCT: 'Standard PC',
    ARCH: 'efi-x64',
    DEPLOYMENT_ID: d.id
  })
  t.same(r.steps.map(s => s.index), [0, 1, 2, 3, 4, 5, 6])
  t.match(r.steps[1], { type: 'applyImage', image: 'win11-ent', index: 1, imageIndex: 3, url: `${BASE_URL}/images/win11-ent`, size: 123456, sha256: 'ab'.repeat(32) })
  t.match(r.steps[2], { type: 'applyFiles', url: `${BASE_URL}/files/drivers/dell%20latitude`, destination: '/Windows/INF' })
  t.match(r.steps[3], { type: 'setComputerName', computerName: 'PC-SN42-SN42' })
  t.match(r.steps[4], { type: 'runCommand', command: 'echo ${TARGET} > $TARGET/x' }, 'shell commands are left to the PE shell')
  t.match(r.steps[5], { type: 'capture', uploadUrl: `${BASE_URL}/pe/v1/capture/gold` })
  t.equal(r.steps[6]?.url, undefined)
})

t.test('resolved task sequence: image not catalogued yet, machine not inventoried', async t => {
  const { deployments, config } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  const r = await deployments.resolveTaskSequence(d, BASE_URL)
  t.equal(r.steps[1]?.url, `${BASE_URL}/images/win11-ent`)
  t.notOk('size' in (r.steps[1] ?? {}) || 'sha256' in (r.steps[1] ?? {}), 'size and checksum omitted')
  t.equal(r.variables.SERIAL, '')
  t.equal(r.variables.OSDComputerName, 'PC-')
})

t.test('logs: events per batch, tail bounded to 64 KiB', async t => {
  const { deployments, config } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(d, BASE_URL)
  await deployments.appendLog(d, 'line 1\nline 2\n')
  const big = 'é'.repeat(40_000) + '\n'         // 80 001 bytes
  let cur = await deployments.appendLog(d, big)
  cur = await deployments.appendLog(d, 'last line\n')
  t.ok(Buffer.byteLength(cur.logTail ?? '') <= LOG_TAIL_BYTES, 'tail within 64 KiB')
  t.ok(cur.logTail?.endsWith('é\nlast line\n'), 'keeps the newest text')
  t.notOk(cur.logTail?.includes('line 1'), 'drops the oldest')
  t.notOk(cur.logTail?.includes('\uFFFD'), 'never cuts a character in half')
  const logs = (await deployments.events(d.id)).filter(e => e.type === 'log')
  t.equal(logs.length, 3)
  t.equal(logs[0]?.message, 'line 1\nline 2\n')
  t.equal(tailBytes('short'), 'short')
  await t.rejects(deployments.appendLog(d, 42 as unknown as string), { code: 'NB_ERR_BAD_REQUEST' })
})

t.test('progress: the deployment follows every report, events only per tenth', async t => {
  const { deployments, config } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(d, BASE_URL)
  await deployments.reportStatus(d, { step: 1, state: 'start' })
  for (const p of [1, 2, 3, 11, 12, 55, 56]) await deployments.reportStatus(d, { step: 1, state: 'progress', progress: p })
  t.equal((await deployments.get(d.id))?.progress, 56)
  const prog = (await deployments.events(d.id)).filter(e => e.type === 'step-progress').map(e => e.progress)
  t.same(prog, [11, 55])
})

t.test('sweep: silent PEs fail after checkInTimeoutMinutes, live ones stay', async t => {
  const { deployments, config, clock } = await setup()
  const booting = await deployments.begin(client, decision(config))
  const running = await deployments.begin(other, decision(config))
  await deployments.resolveTaskSequence(running.deployment, BASE_URL)
  clock.advance(29 * 60_000)
  await deployments.reportStatus(running.deployment, { step: 0, state: 'start' })
  t.same(await deployments.sweep(clock.now()), [], 'nothing at 29 minutes')
  clock.advance(60_000)
  const swept = await deployments.sweep(clock.now())
  t.same(swept.map(d => d.id), [booting.deployment.id], 'the booting one at 30 minutes')
  t.match(swept[0], { state: 'failed', error: 'no report from the PE for 30 minutes', endedAt: '2026-06-01T12:30:00.000Z' })
  t.same(await deployments.sweep(clock.now()), [], 'a swept deployment is not swept twice')
  clock.advance(29 * 60_000)
  t.same((await deployments.sweep(clock.now())).map(d => d.id), [running.deployment.id], 'running one 30 minutes after its last report')
  await t.rejects(deployments.authenticate(running.token), { code: 'NB_ERR_UNAUTHORIZED' })
  await t.rejects(deployments.reportStatus(running.deployment, { step: 1, state: 'start' }), { code: 'NB_ERR_CONFLICT' })
  const ev = await deployments.events(running.deployment.id)
  t.match(ev.at(-1), { type: 'failed', message: 'no report from the PE for 30 minutes' })
})

t.test('service: sweeps at start and every minute; stop clears the timer', async t => {
  const { ctx, deployments, config, clock } = await setup()
  const { deployment: d } = await deployments.begin(client, decision(config))
  clock.advance(31 * 60_000)
  const svc = createService(ctx)
  t.equal(svc.name, 'deployments')
  await svc.start()
  for (let i = 0; i < 50 && (await deployments.get(d.id))?.state !== 'failed'; i++) await new Promise(resolve => setImmediate(resolve))
  t.equal((await deployments.get(d.id))?.state, 'failed', 'a timed-out deployment fails when the service starts')
  await svc.stop()
  await svc.stop()
  t.pass('stop twice is fine')
})

t.test('the policy sees the result: required runs once; a re-image runs it again', async t => {
  const { deployments, config, clock, store } = await setup()
  await store.machines.recordSighting({ mac: client.mac, arch: 'efi-x64' }, clock.now())
  const boot = async () => decide({ config, client, machine: await store.machines.get(client.mac), history: await store.deployments.listByMachine(client.mac), now: clock.now() })
  const first = await boot()
  t.equal(first.kind, 'deploy')
  if (first.kind !== 'deploy') return
  const { deployment: d } = await deployments.begin(client, first)
  t.equal((await boot()).kind, 'deploy', 'PXE retry before the PE checked in: boot it again')
  await deployments.resolveTaskSequence(d, BASE_URL)
  t.match(await boot(), { kind: 'local', reason: /is running/ }, 'mid-sequence reboot → local')
  clock.advance(60_000)
  await deployments.finish(d, { result: 'succeeded' })
  clock.advance(60_000)
  const after = await boot()
  t.equal(after.kind, 'menu', 'required done: only the available one is left')
  await t.rejects(deployments.reimage('02:00:00:00:00:99'), { code: 'NB_ERR_NOT_FOUND', message: /protected:/ })
  await t.rejects(deployments.reimage('not-a-mac'), { code: 'NB_ERR_BAD_REQUEST' })
  const m = await deployments.reimage(client.mac.toUpperCase().replace(/:/g, '-'))
  t.equal(m.reimageAfter, clock.now().toISOString())
  t.match((await deployments.events(d.id)).at(-1), { type: 'reimage' })
  clock.advance(60_000)
  const again = await boot()
  t.equal(again.kind === 'deploy' && again.advertisement.id, 'win11-required', 'after re-image the required one runs again')
})

t.test('protect: admin flag keeps required deployments off', async t => {
  const { deployments, config, clock, store } = await setup()
  await store.machines.recordSighting({ mac: client.mac, arch: 'efi-x64' }, clock.now())
  const m = await deployments.protect(client.mac, true)
  t.equal(m.protected, true)
  const d = decide({ config, client, machine: m, history: [], now: clock.now() })
  t.match(d, { kind: 'menu' })
  const un = await deployments.protect(client.mac, false)
  t.equal(un.protected, undefined, 'flag removed')
  t.equal(decide({ config, client, machine: un, history: [], now: clock.now() }).kind, 'deploy')
  await t.rejects(deployments.protect('02:00:00:00:00:99', true), { code: 'NB_ERR_NOT_FOUND' })
  t.equal((await deployments.list()).length, 0)
})

t.test('every state change is stored in one write with its event: a failed write leaves neither', async t => {
  const { failingStore } = await import('../../src/store/broken.js')
  const { createMemoryStore } = await import('../../src/store/index.js')
  // appendEvent on its own never works here: the PE's whole life must not need it.
  let failUpdates = false
  const store = failingStore(createMemoryStore(), (c, m) => c === 'deployments' && (m === 'appendEvent' || (failUpdates && m === 'update')))
  const { deployments, config } = await setup({ store })
  const { deployment: d } = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(d, BASE_URL)
  await deployments.reportStatus(d, { step: 0, state: 'start' })
  await deployments.appendLog(d, 'partitioned\n')
  await deployments.reportStatus(d, { step: 0, state: 'end' })
  t.same((await deployments.events(d.id)).map(e => e.type), ['created', 'booting', 'checked-in', 'step-start', 'log', 'step-end'])

  failUpdates = true
  const before = await store.deployments.get(d.id)
  await t.rejects(deployments.finish(d, { result: 'succeeded' }), { code: 'NB_ERR_STORE' })
  await t.rejects(deployments.reportStatus(d, { step: 1, state: 'start' }), { code: 'NB_ERR_STORE' })
  t.same(await store.deployments.get(d.id), before, 'the deployment is as it was')
  t.equal((await deployments.events(d.id)).length, 6, 'and no event claims otherwise')
  failUpdates = false
  t.equal((await deployments.finish(d, { result: 'succeeded' })).state, 'succeeded', 'the PE can report again once the store works')
  t.same((await deployments.events(d.id)).map(e => e.type).slice(-1), ['succeeded'])
})
