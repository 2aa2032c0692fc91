// The HTTP service as app.ts starts it: bind, a port in use, disabled by config.
import t from 'tap'
import { createServer, type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { makeLab } from './helpers.js'
import { createService } from '../../src/http/service.js'
import { BindError } from '../../src/errors.js'

t.test('listens on server.bind and answers; stop frees the port', async t => {
  const lab = await makeLab(t, '')
  const svc = createService(lab.ctx)
  t.ok(svc)
  await svc!.start()
  const res = await fetch(`http://127.0.0.1:${svc!.port()}/healthz`)
  t.equal(res.status, 200)
  t.match(await res.json(), { ok: true })
  await svc!.stop()
  await t.rejects(fetch(`http://127.0.0.1:${svc!.port()}/healthz`))
})

t.test('a port in use is a BindError that says what to do', async t => {
  const busy = createServer().listen(0, '127.0.0.1')
  await once(busy, 'listening')
  t.teardown(() => { busy.close() })
  const port = (busy.address() as AddressInfo).port
  const lab = await makeLab(t, '', { httpPort: port })
  const svc = createService(lab.ctx)
  const err = await svc!.start().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof BindError)
  t.match((err as BindError).message, `http cannot bind 127.0.0.1:${port} (EADDRINUSE): another program already uses port ${port}`)
})

t.test('http.enabled false: no service', async t => {
  const lab = await makeLab(t, 'http:\n  enabled: false\n')
  t.equal(createService(lab.ctx), undefined)
})
