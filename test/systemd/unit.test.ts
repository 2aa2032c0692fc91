// systemd/netboot.service: `systemd-analyze verify` finds nothing to say about it, the sandbox is what the
// issue asks for (unprivileged user, only CAP_NET_BIND_SERVICE, ProtectSystem=strict…), the exposure score
// stays low, and the sysusers.d file creates the user.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SERVE_NODE_FLAGS } from '../../src/runtime/node-flags.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const unitText = await readFile(join(repo, 'systemd/netboot.service'), 'utf8')
const tmp = await mkdtemp(join(tmpdir(), 'nbs-systemd-'))
t.teardown(async () => { await rm(tmp, { recursive: true, force: true }) })

/** The unit with ExecStart's binary pointed at this machine's node, so verify can resolve it anywhere. */
function resolvable (text: string): string {
  return text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `)
}

async function verify (name: string, text: string): Promise<{ status: number | null, out: string }> {
  const dir = join(tmp, name)
  await mkdir(dir, { recursive: true })
  const file = join(dir, 'netboot.service')
  await writeFile(file, text)
  const r = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } })
  // Only lines about our unit count (the host's own units may have their own complaints).
  const out = `${r.stdout}${r.stderr}`.split('\n').filter(l => l.includes('netboot.service')).join('\n')
  return { status: r.status, out }
}

function directives (text: string): Map<string, string[]> {
  const m = new Map<string, string[]>()
  for (const line of text.split('\n')) {
    const x = /^([A-Za-z]+)=(.*)$/.exec(line)
    if (x !== null) m.set(x[1]!, [...(m.get(x[1]!) ?? []), x[2]!])
  }
  return m
}

t.test('systemd-analyze verify: no warnings about the unit', async t => {
  const r = await verify('good', resolvable(unitText))
  t.equal(r.out, '', 'nothing said about netboot.service')
  t.equal(r.status, 0)
})

t.test('the check is real: a misspelt key or a missing binary is reported', async t => {
  const typo = await verify('typo', resolvable(unitText).replace('ProtectSystem=strict', 'ProtectSystm=strict'))
  t.match(typo.out, /Unknown key 'ProtectSystm'/)
  const bin = await verify('bin', unitText.replace('ExecStart=/usr/bin/node ', 'ExecStart=/nonexistent/nbs-node '))
  t.match(bin.out, /nbs-node is not executable/)
  t.not(bin.status, 0)
})

t.test('sandbox and privileges are what the appliance needs and no more', async t => {
  const d = directives(unitText)
  const one = (k: string): string | undefined => d.get(k)?.[0]
  t.equal(one('ExecStart'), `/usr/bin/node ${SERVE_NODE_FLAGS.join(' ')} /opt/netboot/dist/src/main.js serve --config /etc/netboot/appliance.yaml`,
    'node runs with the V8 flags of src/runtime/node-flags.ts')
  t.equal(one('User'), 'netboot')
  t.equal(one('AmbientCapabilities'), 'CAP_NET_BIND_SERVICE')
  t.equal(one('CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE', 'no CAP_NET_RAW: plain UDP sockets with SO_BROADCAST suffice')
  t.notMatch(unitText, /^[^#]*CAP_NET_RAW/m)
  t.equal(one('NoNewPrivileges'), 'yes')
  t.equal(one('ProtectSystem'), 'strict')
  t.equal(one('ProtectHome'), 'yes')
  t.equal(one('PrivateTmp'), 'yes')
  t.match(one('StateDirectory'), /^netboot\b/)
  t.equal(one('WorkingDirectory'), '/var/lib/netboot')
  t.match(one('ReadWritePaths'), /\/var\/lib\/netboot\/images/)
  t.match(one('ReadWritePaths'), /\/var\/lib\/netboot\/state/)
  t.match(one('RestrictAddressFamilies'), /AF_INET/)
  t.equal(one('Restart'), 'on-failure')
  t.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID', 'reload = SIGHUP, which serve handles')
  t.equal(one('Nice'), '0', 'no raised priority: the busy-polling DHCP thread would take the CPU from other processes (bench/dhcp --nice)')
  t.equal(one('RestrictRealtime'), 'yes', 'no real-time policy either')
})

t.test('systemd-analyze security rates the exposure low', async t => {
  const dir = join(tmp, 'security')
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'netboot.service'), resolvable(unitText))
  const r = spawnSync('systemd-analyze', ['security', '--offline=yes', '--no-pager', join(dir, 'netboot.service')], { encoding: 'utf8' })
  const m = /Overall exposure level for netboot\.service: ([\d.]+)/.exec(`${r.stdout}${r.stderr}`)
  t.ok(m, 'an exposure level is printed')
  t.ok(Number(m?.[1]) <= 2.5, `exposure ${m?.[1]} ≤ 2.5 (0 = fully sandboxed, 10 = unprotected)`)
})

t.test('sysusers.d creates the unprivileged netboot user', async t => {
  const root = join(tmp, 'root')
  await mkdir(join(root, 'etc'), { recursive: true })
  const r = spawnSync('systemd-sysusers', [`--root=${root}`, join(repo, 'systemd/netboot.sysusers.conf')], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  const passwd = await readFile(join(root, 'etc/passwd'), 'utf8')
  const line = passwd.split('\n').find(l => l.startsWith('netboot:'))
  t.ok(line, 'netboot in passwd')
  const [, , uid, gid, , home, shell] = line!.split(':')
  t.ok(Number(uid) > 0 && Number(uid) < 1000, `system uid ${uid}`)
  t.ok(Number(gid) > 0)
  t.equal(home, '/var/lib/netboot')
  t.equal(shell, '/usr/sbin/nologin')
  t.match(await readFile(join(root, 'etc/group'), 'utf8'), /^netboot:x:\d+:/m)
})
