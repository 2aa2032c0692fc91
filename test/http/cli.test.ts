// `netboot machines` and `netboot deployments` against a real listening daemon (HTTP service on 127.0.0.1).
import t from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { makeLab, type Lab } from './helpers.js'
import { createService } from '../../src/http/service.js'
import { runCli } from '../../src/cli/index.js'

const M1 = '52:54:00:00:00:01'
const POLICY = `
taskSequences:
  - id: win11
    name: Windows 11
    steps: [{type: partition}, {type: reboot}]
collections:
  - id: lab
    members: [{mac: '${M1}'}]
advertisements:
  - {id: req-win11, taskSequence: win11, collection: lab, purpose: required}
`

async function daemon (t: { teardown (fn: () => unknown): void }, yaml = POLICY): Promise<{ lab: Lab, url: string }> {
  const lab = await makeLab(t, yaml)
  const svc = createService(lab.ctx)
  if (svc === undefined) throw new Error('http disabled')
  await svc.start()
  t.teardown(async () => await svc.stop())
  return { lab, url: `http://127.0.0.1:${svc.port()}` }
}

async function cli (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(argv, { out: l => out.push(l), err: l => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

/** Boot M1, let its PE fetch the sequence, report step 1 at 50 %. Returns the deployment id. */
async function bootM1 (lab: Lab): Promise<string> {
  const r = await lab.app.inject({ url: `/boot/decide?mac=${encodeURIComponent(M1)}&platform=efi&buildarch=x86_64&serial=SN-1&product=Q35` })
  const token = /netboot\.token=(\S+)/.exec(r.body)?.[1] ?? ''
  const auth = { authorization: `Bearer ${token}` }
  await lab.app.inject({ url: '/pe/v1/task-sequence', headers: auth })
  await lab.app.inject({ method: 'POST', url: '/pe/v1/status', headers: auth, payload: { step: 0, state: 'progress', progress: 50, message: 'partitioning' } })
  return /netboot\.deployment=(\S+)/.exec(r.body)?.[1] ?? ''
}

t.test('machines: list, show, protect, unprotect, reimage', async t => {
  const { lab, url } = await daemon(t)
  await bootM1(lab)
  const list = await cli('machines', 'list', '--url', url)
  t.equal(list.code, 0)
  t.equal(list.out, [
    'MAC                ARCH     SERIAL  MANUFACTURER  PRODUCT  IP         LAST SEEN                 FLAGS',
    '52:54:00:00:00:01  efi-x64  SN-1    -             Q35      127.0.0.1  2026-03-01T12:00:00.000Z  -'
  ].join('\n'))
  const show = await cli('machines', 'show', '52-54-00-00-00-01', '--url', url)
  t.equal(show.out, [
    'mac:        52:54:00:00:00:01',
    'serial:     SN-1',
    'product:    Q35',
    'arch:       efi-x64',
    'ip:         127.0.0.1',
    'first seen: 2026-03-01T12:00:00.000Z',
    'last seen:  2026-03-01T12:00:00.000Z',
    'protected:  no'
  ].join('\n'))
  t.same(await cli('machines', 'protect', M1, '--url', url), { code: 0, out: `${M1}: protected, it never receives a required deployment`, err: '' })
  t.match((await cli('machines', 'list', '--url', url)).out, /efi-x64 .* protected$/m)
  t.same(await cli('machines', 'unprotect', M1, '--url', url), { code: 0, out: `${M1}: no longer protected`, err: '' })
  t.same(await cli('machines', 'reimage', M1, '--url', url), { code: 0, out: `${M1}: its required deployments run again on its next PXE boot`, err: '' })
  const json = await cli('machines', 'show', M1, '--url', url, '--json')
  t.match(JSON.parse(json.out), { mac: M1, reimageAfter: String })
  const missing = await cli('machines', 'show', '52:54:00:00:00:77', '--url', url)
  t.equal(missing.code, 1)
  t.match(missing.err, 'netboot machines: no machine 52:54:00:00:00:77 in the inventory')
})

t.test('deployments: list, show, events', async t => {
  const { lab, url } = await daemon(t)
  const id = await bootM1(lab)
  const list = await cli('deployments', 'list', '--url', url)
  t.equal(list.out, [
    'ID' + ' '.repeat(id.length - 2) + '  MAC                ADVERTISEMENT  TASK SEQUENCE  STATE    STEP  PROGRESS  UPDATED',
    `${id}  52:54:00:00:00:01  req-win11      win11          running  1/2   50%       2026-03-01T12:00:00.000Z`
  ].join('\n'))
  const show = await cli('deployments', 'show', id, '--url', url)
  t.match(show.out, `id:            ${id}\nmac:           52:54:00:00:00:01\nadvertisement: req-win11\ntask sequence: win11\npurpose:       required\nstate:         running\nstep:          1/2\nprogress:      50%\n`)
  const ev = await cli('deployments', 'events', id, '--url', url)
  t.equal(ev.code, 0)
  t.match(ev.out, /^SEQ +AT +TYPE +STEP +MESSAGE\n1 +2026-03-01T12:00:00.000Z +created/)
  t.match(ev.out, /step-progress +1 +50% partitioning/)
  t.equal(JSON.parse((await cli('deployments', 'list', '--url', url, '--json')).out)[0].id, id)
  const none = await cli('deployments', 'show', 'nope', '--url', url)
  t.same(none, { code: 1, out: '', err: 'netboot deployments: no deployment nope [NB_ERR_NOT_FOUND]' })
})

t.test('admin token from --token or the environment; a clear error without it', async t => {
  const { url } = await daemon(t, POLICY + '\nhttp:\n  adminToken: s3cret\n')
  const denied = await cli('machines', 'list', '--url', url, '--config', '/nonexistent.yaml')
  t.equal(denied.code, 1)
  t.equal(denied.err, 'netboot machines: admin API: missing "Authorization: Bearer <admin token>" [NB_ERR_UNAUTHORIZED]')
  t.equal((await cli('machines', 'list', '--url', url, '--token', 's3cret')).code, 0)
  process.env.NETBOOT_ADMIN_TOKEN = 's3cret'
  t.teardown(() => { delete process.env.NETBOOT_ADMIN_TOKEN })
  t.equal((await cli('deployments', 'list', '--url', url)).out, 'no deployments yet')
})

t.test('an unreachable daemon and usage errors', async t => {
  const srv = createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const port = (srv.address() as AddressInfo).port
  srv.close()                                         // a port nobody listens on
  const down = await cli('machines', 'list', '--url', `http://127.0.0.1:${port}`)
  t.equal(down.code, 1)
  t.match(down.err, /^netboot machines: cannot reach the appliance's admin API at http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED.*\): is `netboot serve` running\? Use --url to point elsewhere \[NB_ERR_ADMIN_UNREACHABLE\]$/)
  for (const argv of [['machines'], ['machines', 'show'], ['machines', 'list', 'x'], ['machines', 'frob'], ['deployments', 'events'], ['deployments', 'list', '--bogus'], ['deployments', 'list', '--url']]) {
    const r = await cli(...argv)
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err, 'usage: netboot ', argv.join(' '))
  }
})
