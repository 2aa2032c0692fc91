// One-time deployment tokens: only a hash is stored, a new boot kills the old token, expiry, ended deployments,
// and a token for one deployment never acts on another.
import t from 'tap'
import { createHash } from 'node:crypto'
import { BASE_URL, client, decision, other, setup } from './helpers.js'

t.test('token: 32 random bytes base64url, only its SHA-256 stored', async t => {
  const { deployments, config, store } = await setup()
  const { deployment: d, token } = await deployments.begin(client, decision(config))
  t.match(token, /^[A-Za-z0-9_-]{43}$/)
  t.equal(Buffer.from(token, 'base64url').length, 32)
  const stored = await store.deployments.get(d.id)
  t.equal(stored?.tokenHash, createHash('sha256').update(token).digest('hex'))
  t.notOk(JSON.stringify(stored).includes(token), 'the token itself is nowhere in the record')
  t.notOk(JSON.stringify(await store.deployments.events(d.id)).includes(token), 'nor in the events')
  t.match(d, { state: 'booting', purpose: 'required', totalSteps: 7, tokenExpiresAt: '2026-06-01T14:00:00.000Z', advertisementId: 'win11-required', taskSequenceId: 'win11' })
  t.match(d.id, /^[0-9a-f]{12}$/)
  t.equal((await deployments.authenticate(token)).id, d.id)
})

t.test('bad tokens → 401', async t => {
  const { deployments, config } = await setup()
  const { token } = await deployments.begin(client, decision(config))
  for (const bad of ['', 'x', token.slice(0, -1), token + 'A', 'A'.repeat(43), 'a'.repeat(10000)]) {
    await t.rejects(deployments.authenticate(bad), { code: 'NB_ERR_UNAUTHORIZED', statusCode: 401 }, `rejects ${bad.slice(0, 20)}…`)
  }
  await t.rejects(deployments.authenticate(undefined as unknown as string), { code: 'NB_ERR_UNAUTHORIZED' })
})

t.test('one-time per boot: PXE again supersedes the booting deployment and its token', async t => {
  const { deployments, config } = await setup()
  const first = await deployments.begin(client, decision(config))
  const second = await deployments.begin(client, decision(config))
  t.not(second.token, first.token)
  t.not(second.deployment.id, first.deployment.id)
  await t.rejects(deployments.authenticate(first.token), { code: 'NB_ERR_UNAUTHORIZED', message: /ended deployment \(failed\)/ })
  t.match(await deployments.get(first.deployment.id), { state: 'failed', error: 'superseded by a new boot' })
  t.equal((await deployments.authenticate(second.token)).id, second.deployment.id)
  t.same((await deployments.events(first.deployment.id)).map(e => e.type), ['created', 'booting', 'failed'])
})

t.test('a new boot also ends a running deployment of the same machine, not other machines', async t => {
  const { deployments, config } = await setup()
  const a = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(a.deployment, BASE_URL)
  const b = await deployments.begin(other, decision(config))
  t.equal((await deployments.get(a.deployment.id))?.state, 'running', 'another machine does not touch it')
  const a2 = await deployments.begin(client, decision(config, 'short-available'))
  t.match(await deployments.get(a.deployment.id), { state: 'failed', error: 'superseded by a new boot' })
  t.equal((await deployments.authenticate(b.token)).id, b.deployment.id)
  t.equal((await deployments.authenticate(a2.token)).id, a2.deployment.id)
})

t.test('expired token → 401', async t => {
  const { deployments, config, clock } = await setup()
  const { token } = await deployments.begin(client, decision(config))
  clock.advance(120 * 60_000 - 1)
  t.ok(await deployments.authenticate(token), 'valid until the last millisecond')
  clock.advance(1)
  await t.rejects(deployments.authenticate(token), { code: 'NB_ERR_UNAUTHORIZED', message: /expired at 2026-06-01T14:00:00.000Z/ })
})

t.test('ended deployment → 401', async t => {
  const { deployments, config } = await setup()
  const { deployment: d, token } = await deployments.begin(client, decision(config))
  await deployments.resolveTaskSequence(d, BASE_URL)
  await deployments.finish(d, { result: 'succeeded' })
  await t.rejects(deployments.authenticate(token), { code: 'NB_ERR_UNAUTHORIZED', message: /ended deployment \(succeeded\)/ })
})

t.test("another deployment's token cannot act on this one", async t => {
  const { deployments, config } = await setup()
  const d = await deployments.begin(client, decision(config))
  const e = await deployments.begin(other, decision(config))
  const viaD = await deployments.authenticate(d.token)
  t.equal(viaD.id, d.deployment.id, 'a token yields its own deployment only')
  await t.rejects(deployments.authenticate(d.token, e.deployment.id), { code: 'NB_ERR_UNAUTHORIZED', message: new RegExp(`is not for deployment ${e.deployment.id}`) })
  t.equal((await deployments.authenticate(e.token, e.deployment.id)).id, e.deployment.id)
  await deployments.resolveTaskSequence(viaD, BASE_URL)
  t.equal((await deployments.get(e.deployment.id))?.state, 'booting', 'E untouched by D')
})
