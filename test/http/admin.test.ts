// The admin API: who may call it, and what each route answers.
import t from 'tap'
import { makeLab, type Lab } from './helpers.js'

const M1 = '52:54:00:00:00:01'
const POLICY = `
taskSequences:
  - id: win11
    name: Windows 11
    steps: [{type: reboot}]
collections:
  - id: lab
    members: [{mac: '${M1}'}]
advertisements:
  - {id: req-win11, taskSequence: win11, collection: lab, purpose: required}
`

async function deployAndFinish (lab: Lab): Promise<string> {
  const r = await lab.app.inject({ url: `/boot/decide?mac=${encodeURIComponent(M1)}&platform=efi&buildarch=x86_64&serial=SN1` })
  const token = /netboot\.token=(\S+)/.exec(r.body)?.[1] ?? ''
  const id = /netboot\.deployment=(\S+)/.exec(r.body)?.[1] ?? ''
  await lab.app.inject({ url: '/pe/v1/task-sequence', headers: { authorization: `Bearer ${token}` } })
  const res = await lab.app.inject({ method: 'POST', url: '/pe/v1/result', headers: { authorization: `Bearer ${token}` }, payload: { result: 'succeeded' } })
  if (res.statusCode !== 204) throw new Error(res.body)
  return id
}

t.test('without an admin token: loopback callers only, others refused with a hint', async t => {
  const lab = await makeLab(t, POLICY)
  delete process.env.NETBOOT_ADMIN_TOKEN
  for (const remoteAddress of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
    t.equal((await lab.app.inject({ url: '/api/v1/machines', remoteAddress })).statusCode, 200, remoteAddress)
  }
  for (const remoteAddress of ['10.0.0.5', '::ffff:10.0.0.5', 'fe80::1', '128.0.0.1']) {
    const r = await lab.app.inject({ url: '/api/v1/machines', remoteAddress })
    t.equal(r.statusCode, 403, remoteAddress)
    t.equal(r.json().code, 'NB_ERR_HTTP_ADMIN_REMOTE')
    t.match(r.json().message, 'set http.adminToken in the config (or NETBOOT_ADMIN_TOKEN)')
  }
  t.equal((await lab.app.inject({ url: '/healthz', remoteAddress: '10.0.0.5' })).statusCode, 200, 'healthz needs no auth')
  t.equal((await lab.app.inject({ url: '/api/v1/healthz', remoteAddress: '10.0.0.5' })).statusCode, 200)
})

t.test('with an admin token (config or environment): bearer required from everywhere', async t => {
  const lab = await makeLab(t, POLICY + '\nhttp:\n  adminToken: s3cret\n')
  const cases: Array<[Record<string, string>, string, number]> = [
    [{}, '127.0.0.1', 401], [{ authorization: 'Bearer wrong' }, '127.0.0.1', 401],
    [{ authorization: 'Bearer s3cret' }, '10.0.0.5', 200], [{ authorization: 'bearer s3cret' }, '127.0.0.1', 200],
    [{}, '10.0.0.5', 401]
  ]
  for (const [headers, remoteAddress, status] of cases) {
    t.equal((await lab.app.inject({ url: '/api/v1/deployments', headers, remoteAddress })).statusCode, status, `${JSON.stringify(headers)} from ${remoteAddress}`)
  }
  const env = await makeLab(t, POLICY)
  process.env.NETBOOT_ADMIN_TOKEN = 'from-env'
  t.teardown(() => { delete process.env.NETBOOT_ADMIN_TOKEN })
  t.equal((await env.app.inject({ url: '/api/v1/machines', remoteAddress: '127.0.0.1' })).statusCode, 401)
  t.equal((await env.app.inject({ url: '/api/v1/machines', remoteAddress: '10.1.1.1', headers: { authorization: 'Bearer from-env' } })).statusCode, 200)
})

t.test('machines: list, show, reimage, protect', async t => {
  const lab = await makeLab(t, POLICY)
  await deployAndFinish(lab)
  const list = await lab.app.inject({ url: '/api/v1/machines' })
  t.match(list.json(), [{ mac: M1, serial: 'SN1', arch: 'efi-x64' }])
  const show = await lab.app.inject({ url: '/api/v1/machines/52-54-00-00-00-01' })
  t.match(show.json(), { mac: M1 }, 'any MAC spelling')
  t.same((await lab.app.inject({ url: '/api/v1/machines/52:54:00:00:00:77' })).json().code, 'NB_ERR_NOT_FOUND')
  const badMac = await lab.app.inject({ url: '/api/v1/machines/nope' })
  t.equal(badMac.statusCode, 400)
  t.same(badMac.json(), { code: 'NB_ERR_BAD_REQUEST', message: 'not a MAC address: "nope"' })

  const decide = async () => (await lab.app.inject({ url: `/boot/decide?mac=${encodeURIComponent(M1)}&platform=efi&buildarch=x86_64` })).body
  t.match(await decide(), '# Boot from the local disk', 'done: boots locally')
  lab.clock.advance(1000)
  const re = await lab.app.inject({ method: 'POST', url: `/api/v1/machines/${M1}/reimage` })
  t.equal(re.statusCode, 200)
  t.match(re.json(), { mac: M1, reimageAfter: String })
  lab.clock.advance(1000)
  t.match(await decide(), 'kernel ', 're-imaged: the required deployment runs again')

  const prot = await lab.app.inject({ method: 'POST', url: `/api/v1/machines/${M1}/protect`, payload: { protected: true } })
  t.equal(prot.statusCode, 200)
  t.match(prot.json(), { mac: M1, protected: true })
  const bad = await lab.app.inject({ method: 'POST', url: `/api/v1/machines/${M1}/protect`, payload: { protected: 'yes' } })
  t.equal(bad.statusCode, 400)
  t.same(bad.json(), { code: 'NB_ERR_BAD_REQUEST', message: 'invalid body: body/protected must be boolean' })
  const unprot = await lab.app.inject({ method: 'POST', url: `/api/v1/machines/${M1}/protect`, payload: { protected: false } })
  t.equal(unprot.statusCode, 200)
  t.notOk(unprot.json().protected, 'unprotected')
})

t.test('deployments: list, show, events; the token hash is not shown', async t => {
  const lab = await makeLab(t, POLICY)
  const id = await deployAndFinish(lab)
  const list = await lab.app.inject({ url: '/api/v1/deployments' })
  t.match(list.json(), [{ id, mac: M1, state: 'succeeded', advertisementId: 'req-win11' }])
  t.notOk('tokenHash' in list.json()[0])
  const show = await lab.app.inject({ url: `/api/v1/deployments/${id}` })
  t.match(show.json(), { id, state: 'succeeded' })
  t.notOk('tokenHash' in show.json())
  const ev = await lab.app.inject({ url: `/api/v1/deployments/${id}/events` })
  t.match(ev.json(), [{ deploymentId: id, seq: 1, type: 'created' }])
  t.equal(ev.json().at(-1).type, 'succeeded')
  for (const url of ['/api/v1/deployments/nope', '/api/v1/deployments/nope/events']) {
    const r = await lab.app.inject({ url })
    t.equal(r.statusCode, 404, url)
    t.same(r.json(), { code: 'NB_ERR_NOT_FOUND', message: 'no deployment nope' })
  }
})

t.test('config status and whatif', async t => {
  const lab = await makeLab(t, POLICY)
  const cfg = await lab.app.inject({ url: '/api/v1/config' })
  t.match(cfg.json(), { ok: true, errors: [], warnings: [] })
  const w = await lab.app.inject({ url: `/api/v1/whatif?mac=${M1}&arch=efi-x64` })
  t.equal(w.statusCode, 200)
  t.match(w.json(), { decision: { kind: 'deploy', advertisement: { id: 'req-win11' } }, collections: [{ id: 'lab' }] })
  t.notOk('blocked' in w.json(), 'the amd64 PE is there: nothing blocks it')
  const arm = await lab.app.inject({ url: `/api/v1/whatif?mac=${M1}&arch=efi-arm64` })
  t.match(arm.json(), { decision: { kind: 'deploy' }, blocked: 'the arm64 PE is not built on the appliance (netboot pe build --arch arm64)' },
    'deploy, but not now: the boot route would refuse it for want of an arm64 PE')
  t.equal((await lab.ctx.store.deployments.list()).length, 0, 'whatif starts nothing')
  t.equal((await lab.ctx.store.machines.list()).length, 0, 'and inventories nothing')
  const unknown = await lab.app.inject({ url: '/api/v1/whatif?mac=52:54:00:99:99:99' })
  t.match(unknown.json(), { decision: { kind: 'local' } })
  const badArch = await lab.app.inject({ url: `/api/v1/whatif?mac=${M1}&arch=z80` })
  t.equal(badArch.statusCode, 400)
  t.match(badArch.json().message, 'arch must be one of bios, efi-ia32')
  t.equal((await lab.app.inject({ url: '/api/v1/whatif' })).statusCode, 400)
  t.equal((await lab.app.inject({ url: `/api/v1/whatif?mac=${M1}&uuid=xyz` })).statusCode, 400)
  const twice = await lab.app.inject({ url: `/api/v1/whatif?mac=${M1}&mac=x&arch=efi-x64&arch=z80` })
  t.equal(twice.statusCode, 200, 'a repeated key counts once (its first value)')
  t.match(twice.json(), { decision: { kind: 'deploy' } })
})

t.test('unknown routes answer JSON 404', async t => {
  const lab = await makeLab(t, POLICY)
  const r = await lab.app.inject({ url: '/api/v1/nothing?x=1' })
  t.equal(r.statusCode, 404)
  t.same(r.json(), { code: 'NB_ERR_NOT_FOUND', message: 'no route GET /api/v1/nothing' })
})
