// `netboot whatif` through command.run(argv, io): from a temp config and state store, through a daemon's admin
// API (a loopback HTTP server answering like the real route), and its usage errors.
import t, { type Test } from 'tap'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { command } from '../../src/cli/whatif.js'
import { loadConfigFile } from '../../src/config/load.js'
import { explain } from '../../src/policy/decide.js'
import { openStore } from '../../src/store/index.js'

async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => s.listen(0, '127.0.0.1', resolve))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>(resolve => s.close(() => resolve()))
  return port
}

const yaml = (dir: string, port: number, extra = '') => `
server:
  address: 127.0.0.1
  bind: 127.0.0.1
ports:
  http: ${port}
http:
  menuTimeoutSeconds: 7${extra}
paths:
  state: ${join(dir, 'state')}
  pe: ${join(dir, 'pe')}
taskSequences:
  - id: win11
    name: Windows 11
    steps:
      - type: partition
      - type: reboot
  - id: tools
    steps:
      - type: reboot
collections:
  - id: lab
    name: Lab PCs
    members:
      - mac: 52:54:00:12:34:56
  - id: efi
    rules:
      - arch: efi-x64
advertisements:
  - id: win11-lab
    taskSequence: win11
    collection: lab
    purpose: required
  - id: efi-tools
    taskSequence: tools
    collection: efi
    purpose: available
`

async function run (argv: string[]) {
  const out: string[] = []
  const err: string[] = []
  const code = await command.run(argv, { out: l => { out.push(l) }, err: l => { err.push(l) } })
  return { code, out, err, text: out.join('\n') }
}

async function fixture (t: Test, extra = '') {
  const dir = await mkdtemp(join(tmpdir(), 'nbp-whatif-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  const port = await freePort()
  const file = join(dir, 'appliance.yaml')
  await writeFile(file, yaml(dir, port, extra))
  return { dir, port, file }
}

t.test('no daemon, no state store yet: decision, trace, collections, verdicts', async t => {
  const { file } = await fixture(t)
  const r = await run(['--mac', '52-54-00-12-34-56', '--config', file])
  t.equal(r.code, 0, r.err.join('\n'))
  t.equal(r.out[0], 'DEPLOY win11-lab (required) → task sequence win11 (Windows 11), 2 step(s)')
  t.equal(r.out[1], 'BUT NOT NOW: the amd64 PE is not built on the appliance (netboot pe build); the machine is told so and boots its local disk',
    'paths.pe holds no PE in this fixture: the boot route would refuse the deployment, and whatif says so')
  t.match(r.text, /why:\n {2}machine mac 52:54:00:12:34:56, arch bios — not in the inventory yet\n {2}collection lab matched: member mac 52:54:00:12:34:56/)
  t.match(r.text, /collections:\n {2}lab \(Lab PCs\) {2}member {2}specificity 100 {2}member mac 52:54:00:12:34:56/)
  t.match(r.text, /advertisements:\n {2}efi-tools {2}available {2}efi → tools {2}not-member/)
  t.match(r.text, /win11-lab {2}required {3}lab → win11 {2}deploy {6}most specific required/)
  t.match(r.text, /note: no state store at .*state\/db yet/)
  t.match(r.text, /note: arch not given: using bios \(default\)/)
})

t.test('with the PE built, DEPLOY stands alone; JSON carries `blocked` only when something blocks', async t => {
  const { file } = await fixture(t, '')
  const loaded = await loadConfigFile(file, { checkFiles: false })
  if (!loaded.ok) throw new Error('fixture config invalid')
  await mkdir(loaded.config.paths.pe, { recursive: true })
  for (const f of ['vmlinuz', 'initrd.img']) await writeFile(join(loaded.config.paths.pe, f), f)
  const r = await run(['--mac', '52:54:00:12:34:56', '--config', file, '--no-daemon'])
  t.equal(r.out[1], '', 'no BUT NOT NOW line')
  const j = JSON.parse((await run(['--mac', '52:54:00:12:34:56', '--config', file, '--no-daemon', '--json'])).text)
  t.notOk('blocked' in j)
  const arm = JSON.parse((await run(['--mac', '52:54:00:12:34:56', '--arch', 'efi-arm64', '--config', file, '--no-daemon', '--json'])).text)
  t.equal(arm.blocked, 'the arm64 PE is not built on the appliance (netboot pe build --arch arm64)', 'an arm64 machine needs the arm64 PE')
})

t.test('menu for another machine with --arch; JSON output', async t => {
  const { file } = await fixture(t)
  const r = await run(['--mac', '5254.0000.0009', '--arch', 'efi-x64', '--config', file, '--no-daemon'])
  t.equal(r.out[0], 'MENU efi-tools (falls through to the local disk after 7 s)')
  const j = await run(['--mac', '52:54:00:00:00:09', '--arch', 'bios', '--config', file, '--json'])
  t.equal(j.code, 0)
  const e = JSON.parse(j.text)
  t.equal(e.decision.kind, 'local')
  t.match(e.decision.reason, 'no advertisement applies to this machine now')
  t.same(e.collections, [])
  t.same(e.advertisements.map((a: { id: string, verdict: string }) => `${a.id}:${a.verdict}`), ['efi-tools:not-member', 'win11-lab:not-member'])
})

t.test('history from the state store: the required deployment already ran', async t => {
  const { file } = await fixture(t)
  const loaded = await loadConfigFile(file, { checkFiles: false })
  if (!loaded.ok) throw new Error('fixture config invalid')
  const store = await openStore(loaded.config)
  await store.machines.recordSighting({ mac: '52:54:00:12:34:56', arch: 'efi-x64', serial: 'SN1' }, new Date('2026-01-01T00:00:00Z'))
  await store.deployments.create({
    id: 'abc123', advertisementId: 'win11-lab', taskSequenceId: 'win11', mac: '52:54:00:12:34:56', purpose: 'required', state: 'succeeded',
    tokenHash: '0'.repeat(64), tokenExpiresAt: '2026-01-02T00:00:00.000Z', totalSteps: 2, currentStep: 1,
    createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T01:00:00.000Z', endedAt: '2026-01-01T01:00:00.000Z'
  })
  await store.close()
  const r = await run(['--mac', '52:54:00:12:34:56', '--config', file])
  t.equal(r.code, 0)
  t.equal(r.out[0], 'MENU efi-tools (falls through to the local disk after 7 s)', 'arch efi-x64 from the inventory puts it in efi')
  t.match(r.text, 'advertisement win11-lab (required, collection lab): already deployment abc123 succeeded at 2026-01-01T01:00:00.000Z and rerun=never → skip')
  t.match(r.text, 'arch efi-x64, serial SN1 (inventory)')
  t.match(r.text, /source: config .*appliance\.yaml and state store/)
})

t.test('asks the running daemon first', async t => {
  const { file, port } = await fixture(t, '\n  adminToken: s3cret')
  const loaded = await loadConfigFile(file, { checkFiles: false })
  if (!loaded.ok) throw new Error('fixture config invalid')
  const cfg = loaded.config
  const seen: IncomingMessage[] = []
  let status = 200
  const daemon = createServer((req, res) => {
    seen.push(req)
    const u = new URL(req.url ?? '/', 'http://x')
    if (status !== 200) { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify({ code: 'NB_ERR_UNAUTHORIZED', message: 'bad token' })); return }
    const e = explain({ config: cfg, client: { mac: u.searchParams.get('mac') ?? '', arch: 'bios' }, history: [], now: new Date(), machine: { mac: '52:54:00:12:34:56', firstSeen: 'x', lastSeen: 'x', protected: true } })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(e))
  })
  await new Promise<void>(resolve => daemon.listen(port, '127.0.0.1', resolve))
  t.teardown(() => { daemon.close() })
  const r = await run(['--mac', '52:54:00:12:34:56', '--serial', 'SN 9', '--config', file])
  t.equal(r.code, 0)
  t.equal(seen.length, 1)
  t.equal(seen[0]?.url, '/api/v1/whatif?mac=52%3A54%3A00%3A12%3A34%3A56&serial=SN+9')
  t.equal(seen[0]?.headers.authorization, 'Bearer s3cret')
  t.match(r.out[0], /^LOCAL DISK: win11-lab is required but the machine is protected by an admin/, 'the daemon\'s answer (it knows the admin flag)')
  t.match(r.text, `source: the running daemon (http://127.0.0.1:${port})`)
  status = 401
  const f = await run(['--mac', '52:54:00:12:34:56', '--config', file])
  t.equal(f.out[0], 'DEPLOY win11-lab (required) → task sequence win11 (Windows 11), 2 step(s)', 'evaluated locally')
  t.match(f.text, `note: the daemon at http://127.0.0.1:${port} answered 401 (bad token); evaluated from the config instead`)
})

t.test('against the real admin API of the HTTP service', async t => {
  const { buildHttpApp } = await import('../../src/http/app.js')
  const { staticConfig } = await import('../../src/config/holder.js')
  const { createMemoryStore } = await import('../../src/store/index.js')
  const { silentLogger } = await import('../../src/log.js')
  const { systemClock } = await import('../../src/clock.js')
  const { file, port } = await fixture(t, '\n  adminToken: s3cret')
  const loaded = await loadConfigFile(file, { checkFiles: false })
  if (!loaded.ok) throw new Error('fixture config invalid')
  const store = createMemoryStore()
  await store.machines.recordSighting({ mac: '52:54:00:12:34:56', arch: 'efi-x64', serial: 'SN7' }, new Date())
  await store.machines.update('52:54:00:12:34:56', { protected: true })
  const app = await buildHttpApp({ config: staticConfig(loaded.config), store, log: silentLogger, clock: systemClock })
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(async () => { await app.close() })
  const r = await run(['--mac', '52:54:00:12:34:56', '--config', file])
  t.equal(r.code, 0, r.err.join('\n'))
  t.equal(r.out[0], 'MENU efi-tools (falls through to the local disk after 7 s)', 'inventory arch and admin flag, as the daemon sees them')
  t.match(r.text, 'advertisement win11-lab (required, collection lab) → skipped: protected by an admin')
  t.match(r.text, `source: the running daemon (http://127.0.0.1:${port})`)
  const j = await run(['--mac', '52:54:00:12:34:56', '--arch', 'bios', '--config', file, '--json'])
  const e = JSON.parse(j.text)
  t.equal(e.decision.kind, 'local', '--arch reaches the daemon')
  t.match(e.decision.reason, 'protected by an admin')
})

t.test('usage errors exit 2, a bad config exits 1 with its line', async t => {
  const { file, dir } = await fixture(t)
  for (const [argv, msg] of [
    [[], /--mac is required/],
    [['--mac', 'zz:zz'], /not a MAC address: zz:zz/],
    [['--mac', '52:54:00:12:34:56', '--arch', 'sparc'], /--arch must be one of bios/],
    [['--mac', '52:54:00:12:34:56', '--uuid', '1234'], /not an SMBIOS UUID: 1234/],
    [['--mac', '52:54:00:12:34:56', '--bogus'], /Unknown option '--bogus'/]
  ] as const) {
    const r = await run([...argv, '--config', file])
    t.equal(r.code, 2, argv.join(' '))
    t.match(r.err[0], msg)
  }
  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, 'advertisements:\n  - id: x\n    taskSequence: nope\n    collection: nope\n')
  const r = await run(['--mac', '52:54:00:12:34:56', '--config', bad])
  t.equal(r.code, 1)
  t.match(r.err.join('\n'), /bad\.yaml:\d+:\d+: .*nope/)
})
