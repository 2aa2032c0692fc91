// The README's first command — `netboot serve` on the embedded default config (standard ports 67/69/4011/80
// on 0.0.0.0, server.address auto) — run inside a network namespace of our own (nbs-*), so it binds the real
// ports without touching this machine's network. It must start, serve TFTP and HTTP, and stop on SIGTERM.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { repo } from './serve-harness.js'

const ns = `nbs-${process.pid.toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.slice(0, 15)
const sh = (...args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' })
const inNs = (...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args)

const add = sh('ip', 'netns', 'add', ns)
if (add.status === 0) t.teardown(() => { sh('ip', 'netns', 'del', ns) })
const skip = add.status === 0 ? false : `cannot create a network namespace here: ${add.stderr.trim()}`

t.test('embedded default config: starts, serves TFTP and HTTP, stops on SIGTERM', { skip }, async t => {
  // A veth pair gives the namespace a non-loopback address for server.address: auto.
  for (const cmd of [
    ['link', 'set', 'lo', 'up'],
    ['link', 'add', 'nbs-v0', 'type', 'veth', 'peer', 'name', 'nbs-v1'],
    ['addr', 'add', '10.99.0.1/24', 'dev', 'nbs-v0'],
    ['link', 'set', 'nbs-v0', 'up'],
    ['link', 'set', 'nbs-v1', 'up']
  ]) t.equal(sh('ip', '-n', ns, ...cmd).status, 0, `ip ${cmd.join(' ')}`)

  // Relative paths of the embedded config (images, state) resolve against the working directory: a temp one.
  const cwd = await mkdtemp(join(tmpdir(), 'nbs-embedded-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })
  const tsx = fileURLToPath(import.meta.resolve('tsx'))
  const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', tsx, join(repo, 'src/main.ts'), 'serve'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  const exited = new Promise<number | null>(resolve => proc.on('exit', code => resolve(code)))
  t.teardown(async () => { if (proc.exitCode === null) { proc.kill('SIGKILL'); await exited } })
  let out = ''
  let err = ''
  proc.stderr.on('data', (d: Buffer) => { err += d.toString() })
  await new Promise<void>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('"msg":"netboot started"')) resolve() })
    void exited.then(code => reject(new Error(`serve exited ${code}: ${err}`)))
  })
  const logs = out.trim().split('\n').map(l => JSON.parse(l) as Record<string, unknown>)
  const started = logs.find(l => l.msg === 'netboot started')
  t.match(started, { config: join(repo, 'config/appliance.yaml'), state: join(cwd, 'state/db') })
  t.match(logs.find(l => l.service === 'dhcp' && l.listen !== undefined), { listen: 'udp 0.0.0.0:67 and 0.0.0.0:4011 (proxyDHCP, advertising 10.99.0.1)' })

  const health = inNs('curl', '-sS', '--max-time', '10', 'http://10.99.0.1/healthz')
  t.equal(health.status, 0, health.stderr)
  t.match(JSON.parse(health.stdout || '{}'), { ok: true })

  const got = join(cwd, 'undionly.kpxe')
  const tftp = inNs('curl', '-sS', '--max-time', '20', '-o', got, 'tftp://10.99.0.1/undionly.kpxe')
  t.equal(tftp.status, 0, tftp.stderr)
  t.same(await readFile(got), await readFile('/usr/lib/ipxe/undionly.kpxe'), 'the BIOS loader over TFTP, byte for byte')

  proc.kill('SIGTERM')
  t.equal(await exited, 0, 'exit 0 after SIGTERM')
  t.match(out, /"msg":"stopped"/)
  t.ok((await stat(join(cwd, 'state/db'))).isDirectory(), 'the state store was created under the working directory')
})
