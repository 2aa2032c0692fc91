// makeBootable's new SSH host keys (boot/pe/steps-boot.sh, new_ssh_host_keys), run on the host against a small
// image tree (steps-boot-harness.ts) with the host's real OpenSSH ssh-keygen copied into it, as the PE runs the
// image's own. The e2e tests
// (linux-boot.ts) check the same on a deployed disk; here the failure paths: no key is ever left half made,
// and an image whose ssh-keygen cannot run keeps its keys, with a warning.
import t from 'tap'
import type { Test } from 'tap'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { copyWithLibraries, sshFingerprint } from '../../src/lab/linux-image.js'
import { sh } from '../../src/lab/netns.js'
import { inTarget } from './steps-boot-harness.js'

interface ImageOpts { keygen?: boolean, passwd?: boolean, keys?: string[] }

async function image (t: Test, o: ImageOpts = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nbe-sshkeys-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  for (const d of ['etc/ssh', 'dev', 'run']) await mkdir(join(dir, d), { recursive: true })
  await writeFile(join(dir, 'etc/hostname'), 'DEPLOYED-7\n')
  if (o.passwd !== false) await writeFile(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n')
  if (o.keygen !== false) await copyWithLibraries('/usr/bin/ssh-keygen', dir)
  for (const type of o.keys ?? ['ecdsa', 'ed25519']) {
    await sh(['ssh-keygen', '-q', '-N', '', '-t', type, '-C', 'root@reference', '-f', join(dir, `etc/ssh/ssh_host_${type}_key`)])
  }
  return dir
}

/** Runs new_ssh_host_keys against `dir` as /mnt/target; its output. */
const newKeys = async (dir: string): Promise<string> => await inTarget(dir, 'new_ssh_host_keys')

const snapshot = async (dir: string): Promise<Map<string, string>> => {
  const m = new Map<string, string>()
  for (const f of (await readdir(join(dir, 'etc/ssh'))).sort()) m.set(f, await readFile(join(dir, 'etc/ssh', f), 'utf8'))
  return m
}

t.test('every key type is made anew by the image\'s ssh-keygen, named after the machine', async t => {
  const dir = await image(t)
  const before = await snapshot(dir)
  const out = await newKeys(dir)
  t.match(out, /^netboot: new SSH host keys: ecdsa ed25519$/m)
  const after = await snapshot(dir)
  t.same([...after.keys()], [...before.keys()], 'the same files, nothing left over')
  for (const type of ['ecdsa', 'ed25519']) {
    const key = join(dir, `etc/ssh/ssh_host_${type}_key`)
    t.not(after.get(`ssh_host_${type}_key`), before.get(`ssh_host_${type}_key`), `${type}: a new private key`)
    const derived = (await sh(['ssh-keygen', '-y', '-f', key])).stdout.trim().split(' ').slice(0, 2).join(' ')
    t.equal(derived, after.get(`ssh_host_${type}_key.pub`)?.split(' ').slice(0, 2).join(' '), `${type}: the public key is the private key's`)
    t.match(after.get(`ssh_host_${type}_key.pub`), / root@DEPLOYED-7\n$/, `${type}: comment root@<host name>`)
    t.equal((await sh(['stat', '-c', '%a', key])).stdout.trim(), '600', `${type}: private key mode 600`)
  }
  t.match(await sshFingerprint(join(dir, 'etc/ssh/ssh_host_ed25519_key.pub')), /^SHA256:/)
})

t.test('a key type the image\'s ssh-keygen cannot make is removed once another type was made', async t => {
  const dir = await image(t, { keys: ['ed25519'] })
  await writeFile(join(dir, 'etc/ssh/ssh_host_bogus_key'), 'the reference machine\'s secret\n', { mode: 0o600 })
  await writeFile(join(dir, 'etc/ssh/ssh_host_bogus_key.pub'), 'bogus AAAA root@reference\n')
  const out = await newKeys(dir)
  t.match(out, /^netboot: new SSH host keys: ed25519 \(removed, the image's ssh-keygen cannot make them: bogus\)$/m)
  t.same([...(await snapshot(dir)).keys()], ['ssh_host_ed25519_key', 'ssh_host_ed25519_key.pub'], 'the reference machine\'s bogus key is gone')
})

t.test('an ssh-keygen that cannot run keeps every key as it was, with a warning', async t => {
  const dir = await image(t, { passwd: false })   // OpenSSH's ssh-keygen exits: "No user exists for uid 0"
  const before = await snapshot(dir)
  const out = await newKeys(dir)
  t.match(out, /netboot: warning: the image's ssh-keygen made no SSH host key \(No user exists for uid 0\): the reference machine's keys are kept/)
  t.same(await snapshot(dir), before, 'the keys are byte for byte the old ones, no half-made key beside them')
})

t.test('an image without ssh-keygen keeps its keys, with a warning', async t => {
  const dir = await image(t, { keygen: false })
  const before = await snapshot(dir)
  t.match(await newKeys(dir), /netboot: warning: the image has SSH host keys but no \/usr\/bin\/ssh-keygen/)
  t.same(await snapshot(dir), before)
})

t.test('an image without SSH host keys is left alone, silently', async t => {
  const dir = await image(t, { keys: [] })
  t.equal(await newKeys(dir), '')
  t.same([...(await snapshot(dir)).keys()], [])
})

// makeBootable calls machine_identity: the machine ID and the keys together, unless the step keeps them.
t.test('makeBootable\'s machine identity: renewed by default, kept as captured with keepIdentity: true', async t => {
  for (const step of [{ type: 'makeBootable' }, { type: 'makeBootable', keepIdentity: false }, { type: 'makeBootable', keepIdentity: true }]) {
    const keep = step.keepIdentity === true
    const dir = await image(t)
    await writeFile(join(dir, 'etc/machine-id'), '0123456789abcdef0123456789abcdef\n')
    const before = await snapshot(dir)
    const out = await inTarget(dir, 'machine_identity', step)
    const machineId = await readFile(join(dir, 'etc/machine-id'), 'utf8')
    if (keep) {
      t.match(out, /^netboot: keepIdentity: the image's \/etc\/machine-id and SSH host keys are kept as captured$/m, 'keepIdentity: true says so')
      t.same(await snapshot(dir), before, 'keepIdentity: true: the keys byte for byte')
      t.equal(machineId, '0123456789abcdef0123456789abcdef\n', 'keepIdentity: true: the machine ID as captured')
    } else {
      const label = JSON.stringify(step)
      t.match(out, /^netboot: new SSH host keys: ecdsa ed25519$/m, `${label}: new keys`)
      t.not((await snapshot(dir)).get('ssh_host_ed25519_key'), before.get('ssh_host_ed25519_key'), `${label}: another private key`)
      t.equal(machineId, '', `${label}: the machine ID emptied (systemd makes a new one at first boot)`)
    }
  }
})
