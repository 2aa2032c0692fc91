// Hot reload with a real file: a good edit is applied, a bad edit keeps the old config and is reported
// with its lines, fixing it recovers, deleting the file keeps the old config.
import t from 'tap'
import type { Test } from 'tap'
import { Writable } from 'node:stream'
import { rename, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { watchConfig, type WatchedConfig } from '../../src/config/watch.js'
import { createLogger } from '../../src/log.js'
import type { AppConfig } from '../../src/config/schema.js'
import { NOW, ONE_NIC, tempDir } from './fixtures.js'

const GOOD = (port: number): string => `ports:\n  http: ${port}\ncollections:\n  - id: lab\n    members:\n      - mac: 52-54-00-00-00-01\n`
const BAD = 'ports:\n  http: 8082\ncollections:\n  - id: lab\n    members:\n      - mac: 52-54-00-00-00-01\n      - mac: 5254.0000.0001\n    colour: red\n'

/** Wait until `cond` holds; fail after `ms` (the issue's 2 s promise for edits, more for the rest). */
async function until (t: Test, what: string, cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) { t.fail(`${what}: not within ${ms} ms`); return false }
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return true
}

async function setup (t: Test, extra: { fsWatch?: boolean, intervalMs?: number } = {}): Promise<{ file: string, dir: string, w: WatchedConfig, logs: string[], changes: AppConfig[] }> {
  const dir = await tempDir(t)
  const file = join(dir, 'appliance.yaml')
  await writeFile(file, GOOD(8080))
  const logs: string[] = []
  const sink = new Writable({ write (chunk, _enc, cb) { logs.push(String(chunk)); cb() } })
  const w = await watchConfig(file, { log: createLogger({ level: 'info', destination: sink }), ...extra, load: { now: NOW, networkInterfaces: ONE_NIC, cwd: dir } })
  t.teardown(() => w.close())
  const changes: AppConfig[] = []
  w.holder.onChange(c => changes.push(c))
  return { file, dir, w, logs, changes }
}

t.test('good edit → applied within 2 s and listeners called', async t => {
  const { file, w, changes } = await setup(t)
  const first = w.holder.current()
  t.equal(first.ports.http, 8080)
  t.equal(first.collections[0].members[0].mac, '52:54:00:00:00:01')
  await writeFile(file, GOOD(8081))
  await until(t, 'edit applied', () => changes.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 8081)
  t.equal(changes[0], w.holder.current(), 'the listener gets the new config')
  t.ok(Object.isFrozen(w.holder.current()))
  t.equal(w.holder.status().ok, true)
  t.equal(first.ports.http, 8080, 'the old object is untouched (swapped, not mutated)')
})

t.test('bad edit → old config still current, status and log show every error with its line; fix recovers', async t => {
  const { file, w, logs, changes } = await setup(t)
  const before = w.holder.current()
  await writeFile(file, BAD)
  await until(t, 'bad edit noticed', () => !w.holder.status().ok, 2000)
  t.equal(w.holder.current(), before, 'still serving the last good config')
  t.equal(changes.length, 0, 'listeners not called')
  const st = w.holder.status()
  t.same(st.errors.map(e => [e.line, e.message]), [
    [7, "mac 52:54:00:00:00:01 is listed twice in collection 'lab'"],
    [8, "unknown key 'colour' in collections[0]"]
  ])
  t.equal(st.source, file)
  const logged = logs.join('')
  t.match(logged, `${file}:7:14: error: mac 52:54:00:00:00:01 is listed twice`)
  t.match(logged, `${file}:8:5: error: unknown key 'colour'`)
  t.match(logged, /"level":50/, 'at error level')

  await writeFile(file, GOOD(9090))
  await until(t, 'fixed edit applied', () => w.holder.status().ok && changes.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 9090)
  t.same(w.holder.status().errors, [])
})

t.test('editor-style save (write a temp file, rename it over) is picked up', async t => {
  const { file, dir, w, changes } = await setup(t)
  const tmp = join(dir, '.appliance.yaml.swp')
  await writeFile(tmp, GOOD(8181))
  await rename(tmp, file)
  await until(t, 'renamed file applied', () => changes.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 8181)
})

t.test('deleting the file keeps the old config; restoring it recovers', async t => {
  const { file, w, changes } = await setup(t)
  const before = w.holder.current()
  await unlink(file)
  await until(t, 'deletion noticed', () => !w.holder.status().ok, 2000)
  t.equal(w.holder.current(), before)
  t.match(w.holder.status().errors[0].message, /cannot read config \(ENOENT\); still serving the last good config/)
  await writeFile(file, GOOD(7070))
  await until(t, 'restored file applied', () => w.holder.status().ok && changes.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 7070)
})

t.test('an emptied file (a save caught between truncate and write) is not applied', async t => {
  const { file, w, changes } = await setup(t)
  const before = w.holder.current()
  await writeFile(file, '# nothing yet\n')
  await until(t, 'empty file noticed', () => !w.holder.status().ok, 2000)
  t.equal(w.holder.current(), before, 'still serving the last good config, not the defaults')
  t.match(w.holder.status().errors[0].message, 'config file is empty')
  await writeFile(file, GOOD(6060))
  await until(t, 'real content applied', () => w.holder.status().ok && changes.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 6060)
})

t.test('a listener that throws is logged and does not break the reload or other listeners', async t => {
  const { file, w, logs, changes } = await setup(t)
  w.holder.onChange(() => { throw new Error('listener exploded') })
  const seen: number[] = []
  const off = w.holder.onChange(c => seen.push(c.ports.http))
  await writeFile(file, GOOD(8282))
  await until(t, 'edit applied', () => changes.length === 1 && seen.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 8282)
  t.match(logs.join(''), /"message":"listener exploded".*"msg":"config change listener failed"/)
  off()
  const st = await w.reload()
  t.equal(st.ok, true, 'reload() re-validates on demand')
  t.equal(seen.length, 1, 'an unsubscribed listener is not called')
})

t.test('polling alone picks up an edit (filesystems without change events)', async t => {
  const { file, w, changes } = await setup(t, { fsWatch: false, intervalMs: 200 })
  await writeFile(file, GOOD(8383))
  await until(t, 'edit applied by polling', () => changes.length === 1, 2000)
  t.equal(w.holder.current().ports.http, 8383)
})

t.test('an invalid file at start rejects with ConfigInvalidError and every issue', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'bad.yaml')
  await writeFile(file, BAD)
  const err = await watchConfig(file, { log: createLogger({ level: 'silent' }) }).then(() => undefined, (e: unknown) => e) as { code?: string, issues?: Array<{ line: number }>, message?: string }
  t.equal(err?.code, 'NB_ERR_CONFIG')
  t.same(err?.issues?.map(i => i.line), [7, 8])
  t.match(err?.message ?? '', `${file}:7:14: error:`)
  const missing = await watchConfig(join(dir, 'none.yaml'), { log: createLogger({ level: 'silent' }) }).then(() => undefined, (e: unknown) => e) as { code?: string }
  t.equal(missing?.code, 'NB_ERR_CONFIG', 'a missing file too')
})
