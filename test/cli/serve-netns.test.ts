// The README's first command — `netboot serve` on the embedded default config (standard ports 67/69/4011/80
// on 0.0.0.0, server.address auto) — run the way systemd/netboot.service runs it: as an unprivileged user whose
// only capability is CAP_NET_BIND_SERVICE. It runs inside a network namespace of our own (nbs-*) joined by a
// veth pair to a client namespace, so it binds the real ports without touching this machine's network. From
// the client: a PXE DISCOVER gets a proxyDHCP OFFER (broadcast without CAP_NET_RAW), TFTP serves the BIOS
// loader, HTTP answers; SIGTERM stops it with exit 0.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { chown, mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { repo } from './serve-harness.js'

const tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 1e4).toString(36)}`.slice(0, 8)
const srv = `nbs-s${tag}`
const cli = `nbs-c${tag}`
const NOBODY = 65534
const sh = (...args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' })
const inCli = (...args: string[]) => sh('ip', 'netns', 'exec', cli, ...args)

const made = [srv, cli].filter(ns => sh('ip', 'netns', 'add', ns).status === 0)
t.teardown(() => { for (const ns of made) sh('ip', 'netns', 'del', ns) })
const skip = made.length === 2 ? false : 'cannot create network namespaces here (needs root)'

// Unprivileged when this checkout is readable by `nobody` (it is not under /root, mode 700): else as root.
const readable = sh('setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'test', '-r', join(repo, 'src/main.ts')).status === 0
const privDrop = readable
  ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--inh-caps=-all,+net_bind_service',
      '--ambient-caps=-all,+net_bind_service', '--bounding-set=-all,+net_bind_service']
  : []

t.test('embedded config, unprivileged + CAP_NET_BIND_SERVICE: proxyDHCP, TFTP, HTTP, SIGTERM', { skip }, async t => {
  if (!readable) t.comment(`${repo} is not readable by nobody: running as root instead`)
  for (const cmd of [
    ['link', 'add', 'nbs-s0', 'netns', srv, 'type', 'veth', 'peer', 'name', 'nbs-c0', 'netns', cli],
    ['-n', srv, 'link', 'set', 'lo', 'up'],
    ['-n', srv, 'addr', 'add', '10.99.0.1/24', 'dev', 'nbs-s0'],
    ['-n', srv, 'link', 'set', 'nbs-s0', 'up'],
    // Linux routes 255.255.255.255 like any address: without a route, broadcasting an OFFER fails (ENETUNREACH).
    ['-n', srv, 'route', 'add', 'default', 'dev', 'nbs-s0'],
    ['-n', cli, 'link', 'set', 'lo', 'up'],
    ['-n', cli, 'addr', 'add', '10.99.0.2/24', 'dev', 'nbs-c0'],
    ['-n', cli, 'link', 'set', 'nbs-c0', 'up']
  ]) t.equal(sh('ip', ...cmd).status, 0, `ip ${cmd.join(' ')}`)

  // Relative paths of the embedded config (images, state) resolve against the working directory: a temp one.
  const cwd = await mkdtemp(join(tmpdir(), 'nbs-embedded-'))
  t.teardown(async () => { await rm(cwd, { recursive: true, force: true }) })
  if (readable) await chown(cwd, NOBODY, NOBODY)
  const tsx = fileURLToPath(import.meta.resolve('tsx'))
  const proc = spawn('ip', ['netns', 'exec', srv, ...privDrop, process.execPath, '--import', tsx, join(repo, 'src/main.ts'), 'serve'],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
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
  t.match(logs.find(l => l.msg === 'netboot started'), { config: join(repo, 'config/appliance.yaml'), state: join(cwd, 'state/db') })
  t.match(logs.find(l => l.service === 'dhcp' && l.listen !== undefined), { listen: 'udp 0.0.0.0:67 and 0.0.0.0:4011 (proxyDHCP, advertising 10.99.0.1)' })
  t.match(logs.find(l => l.msg === 'dhcp listening'), { receive: 'recvmmsg' }, 'the DHCP ports are read by recvmmsg (native/udp-batch, as the unprivileged user too)')
  t.match(logs.find(l => l.msg === "dhcp thread priority left as the process's"), { nice: 0, why: /needs root or CAP_SYS_NICE/ },
    'without CAP_SYS_NICE the DHCP thread stays at the process\'s priority, and the log says what would raise it')
  if (readable) {
    const status = await readFile(`/proc/${proc.pid}/status`, 'utf8')
    t.match(status, /^Uid:\t65534\t/m, 'runs as nobody')
    t.match(status, /^CapEff:\t0000000000000400$/m, 'effective capabilities: CAP_NET_BIND_SERVICE only')
  }

  const offer = inCli('/usr/bin/python3', join(repo, 'test/cli/serve-discover.py'), 'nbs-c0')
  t.equal(offer.status, 0, `a reply to the PXE DISCOVER ${offer.stdout}${offer.stderr}`)
  t.match(JSON.parse(offer.stdout || '{}'), {
    reply: true, op: 2, xid: 0x1234abcd, yiaddr: '0.0.0.0', siaddr: '10.99.0.1', file: 'undionly.kpxe',
    options: { 'message-type': '2', server_id: '10.99.0.1', vendor_class_id: 'PXEClient' }
  }, 'a proxyDHCP OFFER: no address, next-server and the BIOS loader')

  const got = join(tmpdir(), `nbs-undionly-${tag}.kpxe`)
  t.teardown(async () => { await rm(got, { force: true }) })
  const tftp = inCli('curl', '-sS', '--max-time', '20', '-o', got, 'tftp://10.99.0.1/undionly.kpxe')
  t.equal(tftp.status, 0, tftp.stderr)
  t.same(await readFile(got), await readFile('/usr/lib/ipxe/undionly.kpxe'), 'the BIOS loader over TFTP, byte for byte')

  const health = inCli('curl', '-sS', '--max-time', '10', 'http://10.99.0.1/healthz')
  t.equal(health.status, 0, health.stderr)
  t.match(JSON.parse(health.stdout || '{}'), { ok: true })

  proc.kill('SIGTERM')
  t.equal(await exited, 0, 'exit 0 after SIGTERM')
  t.match(out, /"msg":"stopped"/)
  t.ok((await stat(join(cwd, 'state/db'))).isDirectory(), 'the state store was created under the working directory')
})
