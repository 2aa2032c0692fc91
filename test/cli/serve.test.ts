// `netboot serve` as an admin runs it: starts on a config, answers, stops on SIGTERM; clear failures for a
// taken port, an invalid config and a state store held by another daemon. Everything binds 127.0.0.1 only.
import t from 'tap'
import { createSocket } from 'node:dgram'
import { readFile, rename, writeFile } from 'node:fs/promises'
import { makeSite, serve } from './serve-harness.js'

t.test('serve starts every enabled service, answers HTTP, and stops cleanly on SIGTERM', async t => {
  const site = await makeSite(t)
  const d = serve(t, ['--config', site.config])
  const started = await d.waitLog(/^netboot started$/)
  t.match(started, { config: site.config, state: `${site.dir}/state/db`, pid: d.proc.pid })
  await d.waitLog(/PE ready$|no arm64 PE/)
  t.match(d.logs.find(l => l.pe === 'amd64'), { msg: 'amd64 PE ready', dir: `${site.dir}/pe` }, 'the log says which PEs machines can boot')
  t.match(d.logs.find(l => l.pe === 'arm64'), { level: 30, msg: `no arm64 PE in ${site.dir}/pe/arm64: arm64 machines with a deployment boot their disks until \`netboot pe build --arch arm64\` builds it` })
  const services = started.services as string[]
  t.ok(services.length > 0, `services started: ${services.join(', ')}`)
  for (const s of services) {
    const line = d.logs.find(l => l.service === s && typeof l.listen === 'string')
    t.ok(line, `a "listening on" line for ${s}`)
  }
  if (services.includes('dhcp')) {
    t.match(d.logs.find(l => l.service === 'dhcp' && l.listen !== undefined), { listen: `udp 127.0.0.1:${site.ports.dhcp} and 127.0.0.1:${site.ports.proxyDhcp} (proxyDHCP, advertising 127.0.0.1)` })
  }
  if (services.includes('http')) {
    const res = await fetch(`http://127.0.0.1:${site.ports.http}/healthz`)
    t.equal(res.status, 200, 'GET /healthz answers 200')
    await res.body?.cancel()
  }
  d.proc.kill('SIGTERM')
  const end = await d.exited
  t.same(end, { code: 0, signal: null }, 'exit 0 after SIGTERM')
  t.ok(d.logs.some(l => l.msg === 'stopping' && l.signal === 'SIGTERM'))
  t.ok(d.logs.some(l => l.msg === 'stopped'))
  t.equal(d.stderr(), '', 'nothing on stderr')
})

t.test('SIGINT stops it too; SIGHUP re-reads the config first', async t => {
  const site = await makeSite(t, 'dhcp:\n  mode: off\n')
  const d = serve(t, ['--config', site.config, '--log-level', 'info'])
  await d.waitLog(/^netboot started$/)
  d.proc.kill('SIGHUP')
  await d.waitLog(/^SIGHUP: re-reading the config$/)
  await d.waitLog(/^config reloaded$/)
  t.notOk(d.logs.some(l => l.service === 'dhcp' && l.listen !== undefined), 'dhcp mode off: no DHCP service')
  d.proc.kill('SIGINT')
  t.same(await d.exited, { code: 0, signal: null })
})

t.test('hot reload in the running daemon: a bad edit keeps serving, a good edit is applied', async t => {
  const site = await makeSite(t)
  const d = serve(t, ['--config', site.config])
  const started = await d.waitLog(/^netboot started$/)
  t.ok((started.services as string[]).includes('http'), 'http is running')
  const health = async (): Promise<unknown> => await (await fetch(`http://127.0.0.1:${site.ports.http}/healthz`)).json()
  t.match(await health(), { ok: true, config: true })
  const good = await readFile(site.config, 'utf8')
  // Save the way editors do (temp file + rename): a plain writeFile truncates first, and an empty file is a
  // valid config of defaults that the watcher could catch mid-write.
  const saveAs = async (file: string, text: string): Promise<void> => {
    await writeFile(`${file}.tmp`, text)
    await rename(`${file}.tmp`, file)
  }

  await saveAs(site.config, good + 'bogusKey: 1\n')
  await d.waitLog(/is invalid; still serving the config loaded at/)
  const line = good.split('\n').length
  await d.waitLog(new RegExp(`${site.config}:${line}:1: error: unknown key 'bogusKey'`))
  t.match(await health(), { ok: true, config: false }, 'still serving, and says the config on disk is bad')

  await saveAs(site.config, good + 'http:\n  menuTimeoutSeconds: 3\n')
  await d.waitLog(/^config reloaded$/)
  t.match(await health(), { ok: true, config: true })
  t.notOk(d.logs.some(l => /restart netboot to apply/.test(String(l.msg))), 'a live setting needs no restart')

  await saveAs(site.config, good.replace(`http: ${site.ports.http}`, `http: ${site.ports.http + 1}`))
  await d.waitLog(/restart netboot to apply those/)
  t.match(await health(), { ok: true, config: true }, 'a port change is announced, the old port keeps serving')
  d.proc.kill('SIGTERM')
  t.equal((await d.exited).code, 0)
})

t.test('a port already taken: exit 2 with what to do, no stack trace, nothing left bound', async t => {
  const site = await makeSite(t)
  const sock = createSocket('udp4')
  await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(site.ports.dhcp, '127.0.0.1', resolve) })
  t.teardown(() => { sock.close() })
  const d = serve(t, ['--config', site.config])
  const end = await d.exited
  t.equal(end.code, 2, 'exit code 2')
  const err = d.stderr()
  t.match(err, `cannot bind 127.0.0.1:${site.ports.dhcp} (EADDRINUSE)`)
  t.match(err, `another program already uses port ${site.ports.dhcp}`)
  t.match(err, /ss -lunp/)
  t.notMatch(err, /\n\s+at /, 'no stack trace')
  // Services started before DHCP (http, tftp) were stopped again: their ports are free for the next try.
  const again = createSocket('udp4')
  await new Promise<void>((resolve, reject) => { again.once('error', reject); again.bind(site.ports.tftp, '127.0.0.1', resolve) })
  again.close()
})

t.test('an invalid config: exit 1, every error printed as file:line:column', async t => {
  const site = await makeSite(t)
  const good = await readFile(site.config, 'utf8')
  await writeFile(site.config, good.replace(/^ {2}http: \d+$/m, '  http: "eighty"') + 'colections: []\n')
  const d = serve(t, ['--config', site.config])
  const end = await d.exited
  t.equal(end.code, 1)
  const err = d.stderr()
  t.match(err, `invalid config ${site.config}: 2 errors`)
  const httpLine = good.split('\n').findIndex(l => /^ {2}http: /.test(l)) + 1
  const lastLine = good.split('\n').length
  t.match(err, new RegExp(`${site.config}:${httpLine}:9: error: ports\\.http: .*'eighty'`), 'the port error, at its line')
  t.match(err, `${site.config}:${lastLine}:1: error: unknown key 'colections'`, 'the unknown key, at its line')
  t.notMatch(err, /\n\s+at /, 'no stack trace')
})

t.test('a missing config file: exit 1 saying so', async t => {
  const d = serve(t, ['--config', '/nonexistent/nbs-appliance.yaml'])
  t.equal((await d.exited).code, 1)
  t.match(d.stderr(), /nbs-appliance\.yaml: error: cannot read config/)
})

t.test('a second daemon on the same state: exit 1, says another netboot process holds the db', async t => {
  const site = await makeSite(t, 'dhcp:\n  mode: off\nhttp:\n  enabled: false\n')
  const first = serve(t, ['--config', site.config])
  await first.waitLog(/^netboot started$/)
  const second = serve(t, ['--config', site.config])
  t.equal((await second.exited).code, 1)
  t.match(second.stderr(), `another netboot process holds ${site.dir}/state/db — is the daemon running? use the admin API or stop it`)
  first.proc.kill('SIGTERM')
  t.equal((await first.exited).code, 0)
})

t.test('bad arguments: exit 2 with usage hint', async t => {
  const d = serve(t, ['--bogus'])
  t.equal((await d.exited).code, 2)
  t.match(d.stderr(), /Unknown option '--bogus'/)
  t.match(d.stderr(), /netboot serve --help/)
  const l = serve(t, ['--log-level', 'loud'])
  t.equal((await l.exited).code, 2)
  t.match(l.stderr(), /--log-level must be one of fatal, error/)
})

t.test('bootLoaders.secureBoot: the log says whether the chain can be served', async t => {
  const site = await makeSite(t, 'dhcp:\n  mode: off\nbootLoaders:\n  secureBoot: true\n')
  await writeFile(site.config, (await readFile(site.config, 'utf8')) + `  secureBootDir: ${site.dir}/sb\n`)
  const d = serve(t, ['--config', site.config])
  const warn = await d.waitLog(/^bootLoaders\.secureBoot is on but/)
  t.match(warn, { level: 40, dir: `${site.dir}/sb`, missing: ['shimx64.efi', 'grubx64.efi'] }, 'missing files: a warning naming them and the fix')
  t.match(warn.msg, /scripts\/fetch-trixie-loaders\.sh/)
  d.proc.kill('SIGTERM')
  await d.exited
  const { mkdir: mk, writeFile: wf } = await import('node:fs/promises')
  await mk(`${site.dir}/sb`)
  for (const f of ['shimx64.efi', 'grubx64.efi']) await wf(`${site.dir}/sb/${f}`, 'stand-in')
  const e = serve(t, ['--config', site.config])
  t.match(await e.waitLog(/^Secure Boot chain ready/), { level: 30, dir: `${site.dir}/sb` }, 'with both files: ready')
  e.proc.kill('SIGTERM')
  await e.exited
})
