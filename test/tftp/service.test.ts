// The service as the app wires it: enabled/disabled, virtual files, cache invalidation, config hot reload,
// start/stop releasing the port, and the BindError an admin sees when the port is taken.
import t from 'tap'
import { writeFile, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { tempRoot, fixture, startServer, tftpGet, sha256, tftpConfig } from './helpers.js'
import { createService, createTftpService } from '../../src/tftp/service.js'
import { staticConfig, type ConfigHolder } from '../../src/config/holder.js'
import { silentLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import type { Store } from '../../src/store/types.js'
import type { AppConfig } from '../../src/config/schema.js'
import { BindError } from '../../src/errors.js'
import dgram from 'node:dgram'

const root = await tempRoot(t)
const ctx = (config: ConfigHolder): any => ({ config, store: {} as Store, log: silentLogger, clock: systemClock })

t.test('createService returns undefined when tftp.enabled is false', async t => {
  const cfg = tftpConfig(root, { enabled: false })
  t.equal(createService(ctx(staticConfig(cfg))), undefined)
  t.equal(createService(ctx(staticConfig(tftpConfig(root))))?.name, 'tftp')
})

t.test('virtual files: per-client content, case-insensitive names, fall-through, handler failure', async t => {
  await fixture(root, 'real.bin', 100)
  const { port, virtual } = await startServer(t, root)
  virtual.register('Boot.ipxe', async ({ path, client }) => Buffer.from(`#!ipxe\n# ${path} for ${client.address}\n`))
  virtual.register(/^menu\/(.+)$/, async ({ path }) => (path.endsWith('.cfg') ? Buffer.from(`menu ${path}`) : undefined))
  virtual.register('broken', async () => { throw new Error('boom') })
  const a = await tftpGet(port, '\\BOOT.IPXE')
  t.equal(a.data?.toString(), '#!ipxe\n# BOOT.IPXE for 127.0.0.1\n', 'generated, with the client address')
  const b = await tftpGet(port, 'menu/x.cfg', { options: { tsize: '0' } })
  t.equal(b.data?.toString(), 'menu menu/x.cfg')
  t.equal(b.oack?.tsize, String('menu menu/x.cfg'.length), 'tsize of a virtual file')
  const c = await tftpGet(port, 'menu/x.txt')
  t.equal(c.error?.code, 1, 'handler said undefined: falls through to the root, not found')
  const d = await tftpGet(port, 'broken')
  t.match(d.error, { code: 0, message: /internal error/ })
  const e = await tftpGet(port, '../boot.ipxe')
  t.equal(e.error?.code, 2, 'traversal refused before any handler sees it')
  const f = await tftpGet(port, 'real.bin')
  t.equal(f.data?.length, 100, 'real files still served')
})

t.test('the cache notices a changed file', async t => {
  const first = await fixture(root, 'hot.efi', 5000)
  const { port, service } = await startServer(t, root)
  t.equal(sha256((await tftpGet(port, 'hot.efi')).data!), sha256(first))
  t.equal(sha256((await tftpGet(port, 'hot.efi')).data!), sha256(first))
  t.equal(service.server.cache.hits, 1, 'second download from the cache')
  const second = Buffer.alloc(5000, 7) // same size, new content and mtime
  await writeFile(join(root, 'hot.efi'), second)
  await utimes(join(root, 'hot.efi'), new Date(), new Date(Date.now() + 5000))
  t.equal(sha256((await tftpGet(port, 'hot.efi')).data!), sha256(second), 'new content served')
})

t.test('hot reload: the next request uses the new root and limits', async t => {
  const other = await tempRoot(t)
  await fixture(other, 'only-in-other.bin', 10)
  let cfg: AppConfig = { ...tftpConfig(root), ports: { tftp: 0 } } as AppConfig
  const holder: ConfigHolder = { ...staticConfig(cfg), current: () => cfg }
  const svc = createTftpService(ctx(holder))
  await svc.start()
  t.teardown(() => svc.stop())
  const port = svc.address()!.port
  t.equal((await tftpGet(port, 'only-in-other.bin')).error?.code, 1)
  cfg = tftpConfig(other, { maxBlksize: 1024 })
  const r = await tftpGet(port, 'only-in-other.bin', { options: { blksize: '8192' } })
  t.equal(r.data?.length, 10, 'new root')
  t.equal(r.oack?.blksize, '1024', 'new maxBlksize')
})

t.test('stop releases the port; a taken port is a BindError that says what to do', async t => {
  const blocker = dgram.createSocket('udp4')
  await new Promise<void>(resolve => blocker.bind(0, '127.0.0.1', resolve))
  const taken = blocker.address().port
  const cfg = { ...tftpConfig(root), ports: { tftp: taken } } as AppConfig
  const svc = createTftpService(ctx(staticConfig(cfg)))
  t.teardown(() => { try { blocker.close() } catch {} })
  let caught: unknown
  try { await svc.start() } catch (err) { caught = err }
  t.ok(caught instanceof BindError, 'a BindError')
  t.match((caught as Error)?.message, /another program already uses port .*ss -lunp/)
  blocker.close()
  await svc.start()
  t.teardown(() => svc.stop())
  t.equal(svc.address()?.port, taken)
  await svc.stop()
  const again = createTftpService(ctx(staticConfig(cfg)))
  await again.start()
  await again.stop()
  t.pass('rebinding after stop works')
})
