// The PE API: the deployment token is the deployment. No token, an unknown token, or D's token used on E's
// behalf get nowhere; bodies are validated with clear 400s.
import t from 'tap'
import { BASE, makeLab, type Lab } from './helpers.js'

const D_MAC = '52:54:00:00:0d:01'
const E_MAC = '52:54:00:00:0e:01'
const POLICY = `
taskSequences:
  - id: ts
    name: Two steps
    steps: [{type: partition}, {type: reboot}]
collections:
  - id: all
    members: [{mac: '${D_MAC}'}, {mac: '${E_MAC}'}]
advertisements:
  - {id: req, taskSequence: ts, collection: all, purpose: required}
`

/** Boot a machine through /boot/decide and return its deployment id and token. */
async function boot (lab: Lab, mac: string): Promise<{ id: string, token: string }> {
  const r = await lab.app.inject({ url: `/boot/decide?mac=${encodeURIComponent(mac)}&platform=efi&buildarch=x86_64` })
  const id = /netboot\.deployment=(\S+)/.exec(r.body)?.[1]
  const token = /netboot\.token=(\S+)/.exec(r.body)?.[1]
  if (id === undefined || token === undefined) throw new Error('no deployment in ' + r.body)
  return { id, token }
}

const ROUTES: Array<{ method: 'GET' | 'POST', url: string, payload?: unknown, contentType?: string }> = [
  { method: 'GET', url: '/pe/v1/task-sequence' },
  { method: 'POST', url: '/pe/v1/status', payload: { step: 0, state: 'start' } },
  { method: 'POST', url: '/pe/v1/log', payload: 'hello', contentType: 'text/plain' },
  { method: 'POST', url: '/pe/v1/result', payload: { result: 'failed', error: 'x' } }
]

t.test('every PE route needs a valid deployment token', async t => {
  const lab = await makeLab(t, POLICY)
  await boot(lab, D_MAC)
  for (const r of ROUTES) {
    const headers: Record<string, string> = r.contentType !== undefined ? { 'content-type': r.contentType } : {}
    const none = await lab.app.inject({ method: r.method, url: r.url, payload: r.payload as string, headers })
    t.equal(none.statusCode, 401, `${r.url} without a token`)
    t.equal(none.json().code, 'NB_ERR_UNAUTHORIZED', `${r.url} without a token`)
    const bad = await lab.app.inject({ method: r.method, url: r.url, payload: r.payload as string, headers: { ...headers, authorization: 'Bearer not-a-token' } })
    t.equal(bad.statusCode, 401, `${r.url} with an unknown token`)
    const basic = await lab.app.inject({ method: r.method, url: r.url, payload: r.payload as string, headers: { ...headers, authorization: 'Basic Zm9vOmJhcg==' } })
    t.equal(basic.statusCode, 401, `${r.url} with another scheme`)
  }
  t.match((await lab.ctx.store.deployments.list())[0], { state: 'booting' }, 'nothing changed')
})

t.test("D's token reads and reports on D only", async t => {
  const lab = await makeLab(t, POLICY)
  const d = await boot(lab, D_MAC)
  const e = await boot(lab, E_MAC)
  const asD = { authorization: `Bearer ${d.token}` }
  const ts = await lab.app.inject({ url: '/pe/v1/task-sequence', headers: { authorization: `bearer ${d.token}` } })
  t.equal(ts.statusCode, 200)
  t.match(ts.json(), { deploymentId: d.id, taskSequenceId: 'ts', name: 'Two steps', applianceUrl: BASE, steps: [{ type: 'partition', index: 0 }, { type: 'reboot', index: 1 }] })
  t.equal(ts.json().variables.DEPLOYMENT_ID, d.id)

  t.equal((await lab.app.inject({ method: 'POST', url: '/pe/v1/status', headers: asD, payload: { step: 0, state: 'progress', progress: 40, message: 'partitioning' } })).statusCode, 204)
  t.equal((await lab.app.inject({ method: 'POST', url: '/pe/v1/log', headers: { ...asD, 'content-type': 'text/plain' }, payload: 'sfdisk done\n' })).statusCode, 204)
  t.equal((await lab.app.inject({ method: 'POST', url: '/pe/v1/result', headers: asD, payload: { result: 'failed', error: 'disk full' } })).statusCode, 204)

  t.match(await lab.ctx.store.deployments.get(d.id), { state: 'failed', error: 'disk full' })
  t.match(await lab.ctx.store.deployments.get(e.id), { state: 'booting' }, 'E untouched')
  t.notOk((await lab.ctx.store.deployments.events(e.id)).some(ev => ev.type === 'log' || ev.type === 'failed'), 'no event of D on E')
  t.ok((await lab.ctx.store.deployments.events(d.id)).some(ev => ev.type === 'log'), "D's log recorded on D")
  const eTs = await lab.app.inject({ url: '/pe/v1/task-sequence', headers: { authorization: `Bearer ${e.token}` } })
  t.equal(eTs.json().deploymentId, e.id, "E's token names E")
})

t.test('bodies are validated with clear messages', async t => {
  const lab = await makeLab(t, POLICY)
  const d = await boot(lab, D_MAC)
  const asD = { authorization: `Bearer ${d.token}` }
  const bad: Array<[string, unknown, string]> = [
    ['/pe/v1/status', { state: 'start' }, "invalid body: body must have required property 'step'"],
    ['/pe/v1/status', { step: -1, state: 'start' }, 'invalid body: body/step must be >= 0'],
    ['/pe/v1/status', { step: 0, state: 'dancing' }, 'invalid body: body/state must be equal to one of the allowed values'],
    ['/pe/v1/status', { step: 0, state: 'progress', progress: 101 }, 'invalid body: body/progress must be <= 100'],
    ['/pe/v1/result', { result: 'maybe' }, 'invalid body: body/result must be equal to one of the allowed values'],
    ['/pe/v1/result', {}, "invalid body: body must have required property 'result'"]
  ]
  for (const [url, payload, message] of bad) {
    const r = await lab.app.inject({ method: 'POST', url, headers: asD, payload: payload as object })
    t.equal(r.statusCode, 400, `${url} ${JSON.stringify(payload)}`)
    t.same(r.json(), { code: 'NB_ERR_BAD_REQUEST', message })
  }
  const notJson = await lab.app.inject({ method: 'POST', url: '/pe/v1/status', headers: { ...asD, 'content-type': 'application/json' }, payload: '{"step":' })
  t.equal(notJson.statusCode, 400)
  t.equal(notJson.json().code, 'FST_ERR_CTP_INVALID_JSON_BODY')
  t.match(await lab.ctx.store.deployments.get(d.id), { state: 'booting' }, 'nothing recorded from bad bodies')
  await lab.app.inject({ url: '/pe/v1/task-sequence', headers: asD })
  const long = await lab.app.inject({ method: 'POST', url: '/pe/v1/result', headers: asD, payload: { result: 'failed', error: 'e'.repeat(5000), logTail: 'line\n'.repeat(40000) } })
  t.equal(long.statusCode, 204, 'a long log tail or error is accepted (the service keeps the tail)')
  t.match(await lab.ctx.store.deployments.get(d.id), { state: 'failed' })
})

t.test('log uploads are text/plain and bounded', async t => {
  const lab = await makeLab(t, POLICY)
  const d = await boot(lab, D_MAC)
  const asD = { authorization: `Bearer ${d.token}` }
  const big = await lab.app.inject({ method: 'POST', url: '/pe/v1/log', headers: { ...asD, 'content-type': 'text/plain' }, payload: 'x'.repeat(1024 * 1024 + 1) })
  t.equal(big.statusCode, 413)
  t.equal(big.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')
  const json = await lab.app.inject({ method: 'POST', url: '/pe/v1/log', headers: asD, payload: { log: 'x' } })
  t.equal(json.statusCode, 415)
  t.match(json.json().message, 'text/plain')
  const ok = await lab.app.inject({ method: 'POST', url: '/pe/v1/log', headers: { ...asD, 'content-type': 'text/plain; charset=utf-8' }, payload: 'x'.repeat(1024 * 1024) })
  t.equal(ok.statusCode, 204, 'exactly the limit is accepted')
})
