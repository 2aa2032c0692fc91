// boot/pe/capture.sh for real, outside QEMU: an NTFS volume in a plain file (mkntfs -F, filled with wimapply in
// NTFS-3G mode), captured under busybox ash with busybox's dd/tee/sha256sum/…, uploaded to the appliance's
// HTTP app listening on 127.0.0.1 — through a proxy that cuts connections — and the stored image's tree
// compared with the source tree.
import t, { type Test } from 'tap'
import { mkdtemp, rm, mkdir, symlink, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn, execFileSync } from 'node:child_process'
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import { randomBytes, createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { makeHarness, CAPTURE_TOKEN, type Harness } from '../images/harness.js'
import { sh, makeTree } from '../images/wimlib.js'

const CAPTURE_SH = fileURLToPath(new URL('../../boot/pe/capture.sh', import.meta.url))
const BUSYBOX_APPLETS = ['sh', 'dd', 'tee', 'sha256sum', 'mkfifo', 'mktemp', 'wc', 'cut', 'awk', 'tr', 'sleep', 'cat', 'rm', 'mv', 'head', 'tail', 'grep']

const work = await mkdtemp(join(tmpdir(), 'nbi-cap-'))
t.teardown(() => rm(work, { recursive: true, force: true }))

// A PATH whose basic tools are busybox applets, as in the PE; wimlib, curl and jq come from the host.
const bb = join(work, 'bb')
await mkdir(bb)
for (const a of BUSYBOX_APPLETS) await symlink('/bin/busybox', join(bb, a))
const PATH = `${bb}:${process.env.PATH ?? '/usr/bin:/bin'}`

// The reference computer's volume: a tree with a few MiB of incompressible data (several 1 MiB chunks).
const tree = join(work, 'tree')
await makeTree(tree, {
  'Windows/System32/drivers/etc/hosts': '127.0.0.1 localhost\r\n',
  'Windows/System32/big.bin': randomBytes(2_500_000),
  'Users/Alice/Documents/résumé.txt': 'unicode names survive\n',
  'Program Files/App/app.exe': randomBytes(700_000),
  'empty.txt': ''
})
await mkdir(join(tree, 'Users/Public/Empty Dir'), { recursive: true })
const volume = join(work, 'volume.ntfs')
execFileSync('truncate', ['-s', '48M', volume])
execFileSync('mkntfs', ['-F', '-Q', '-q', '-L', 'Windows', volume], { stdio: 'ignore' })
await sh('wimcapture', [tree, join(work, 'tree.wim'), 'tree'])
await sh('wimapply', [join(work, 'tree.wim'), '1', volume])

interface Run { code: number | null, out: string, err: string }

function capture (args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn('/bin/busybox', ['sh', CAPTURE_SH, ...args], {
      env: { PATH, CAPTURE_CHUNK_MB: '1', CAPTURE_TMP: work, ...env }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    p.stdout.on('data', (d: Buffer) => { out += d.toString() })
    p.stderr.on('data', (d: Buffer) => { err += d.toString() })
    p.on('error', reject)
    p.on('close', code => resolve({ code, out, err }))
  })
}

/** A TCP proxy to `port` that drops the connections whose numbers are in `cut` after `afterBytes` upstream bytes. */
async function cuttingProxy (t: Test, port: number, cut: Set<number>, afterBytes: number, opts: { drop201?: boolean } = {}): Promise<{ port: number, cuts: () => number }> {
  let n = 0
  let cuts = 0
  const server: Server = createServer((client: Socket) => {
    const id = ++n
    const up = connect(port, '127.0.0.1')
    let sent = 0
    client.on('data', (d: Buffer) => {
      sent += d.length
      if (cut.has(id) && sent > afterBytes) {
        cuts++
        client.destroy()
        up.destroy()
        return
      }
      up.write(d)
    })
    up.on('data', (d: Buffer) => {
      if (opts.drop201 === true && d.subarray(0, 12).toString('latin1') === 'HTTP/1.1 201') {
        opts.drop201 = false // the image is catalogued, but the client never hears it
        cuts++
        client.destroy()
        up.destroy()
        return
      }
      client.write(d)
    })
    up.on('end', () => client.end())
    client.on('end', () => up.end())
    up.on('error', () => client.destroy())
    client.on('error', () => up.destroy())
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => server.close(() => resolve())))
  return { port: (server.address() as AddressInfo).port, cuts: () => cuts }
}

async function listening (t: Test): Promise<{ h: Harness, port: number }> {
  const h = await makeHarness(t)
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  return { h, port: (h.app.server.address() as AddressInfo).port }
}

/** The stored image applied to a directory must equal the source tree (names, contents, empty dirs). */
async function sameTree (t: Test, h: Harness, id: string): Promise<void> {
  const e = await h.ctx.store.images.get(id)
  t.ok(e, `image ${id} is in the catalog`)
  if (e === undefined) return
  const stored = join(h.cfg.paths.images, e.file)
  t.equal(createHash('sha256').update(await readFile(stored)).digest('hex'), e.sha256, 'catalogued SHA-256 is the file\'s')
  const out = join(work, `applied-${id}-${Math.random().toString(16).slice(2)}`)
  await sh('wimapply', [stored, '1', out])
  const diff = await sh('diff', ['-r', tree, out]).then(() => '', (err: { stdout?: string }) => err.stdout ?? 'diff failed')
  t.equal(diff, '', 'diff -r source applied-image: no differences')
}

t.test('stream mode through a proxy that cuts two connections mid-upload', async t => {
  const { h, port } = await listening(t)
  const token = await h.token('adv-capture')
  const proxy = await cuttingProxy(t, port, new Set([2, 4]), 300_000)
  const r = await capture([volume, 'ref-win', `http://127.0.0.1:${proxy.port}/pe/v1/capture/ref-win`, token, 'Reference PC', 'lzx'],
    { CAPTURE_RETRIES: '5' })
  t.equal(r.code, 0, r.err)
  t.equal(proxy.cuts(), 2, 'two connections were cut')
  t.match(r.out, /connection problem \(HTTP 000\), retry 1\/5/)
  t.match(r.out, /done: ref-win uploaded, verified and catalogued \(sha256 [0-9a-f]{64}\)/)
  const e = await h.ctx.store.images.get('ref-win')
  t.equal((e?.wim as any).pipable, true, 'stream mode stores a pipable WIM')
  t.equal((e?.wim as any).images[0].name, 'Reference PC')
  t.equal((e?.wim as any).compression, 'lzx')
  await sameTree(t, h, 'ref-win')
})

t.test('the 201 of the last chunk is lost: capture.sh asks and learns the image is catalogued', async t => {
  const { h, port } = await listening(t)
  const proxy = await cuttingProxy(t, port, new Set(), 0, { drop201: true })
  const r = await capture([volume, 'ref-win', `http://127.0.0.1:${proxy.port}/pe/v1/capture/ref-win`, await h.token('adv-capture'), 'Lost answer', 'none'],
    { CAPTURE_RETRIES: '3' })
  t.equal(r.code, 0, r.err)
  t.equal(proxy.cuts(), 1, 'the 201 was dropped')
  t.match(r.out, /retry 1\/3/)
  t.match(r.out, /done: ref-win uploaded, verified and catalogued/)
  t.equal((await h.ctx.store.images.list()).length, 1)
})

t.test('file mode with the capture-media token, XPRESS', async t => {
  const { h, port } = await listening(t)
  const r = await capture([volume, 'media-img', `http://127.0.0.1:${port}/pe/v1/capture/media-img`, CAPTURE_TOKEN, 'From media', 'xpress'],
    { CAPTURE_MODE: 'file' })
  t.equal(r.code, 0, r.err)
  const e = await h.ctx.store.images.get('media-img')
  t.equal((e?.wim as any).pipable, false, 'file mode stores a regular WIM')
  t.equal((e?.wim as any).compression, 'xpress')
  await sameTree(t, h, 'media-img')
})

t.test('failures exit non-zero with one error line', async t => {
  const { h, port } = await listening(t)
  const url = `http://127.0.0.1:${port}/pe/v1/capture/ref-win`
  let r = await capture([volume, 'ref-win', url, 'wrong-token'])
  t.not(r.code, 0)
  t.match(r.err, /^capture\.sh: error: upload of ref-win refused \(HTTP 401\): deployment token unknown\n$/)
  r = await capture([volume, 'ref-win', url, await h.token('adv-deploy')])
  t.match(r.err, /^capture\.sh: error: .*HTTP 403.*no capture step for image ref-win\n$/)
  r = await capture([join(work, 'nope.img'), 'ref-win', url, 'x'])
  t.match(r.err, /^capture\.sh: error: .*nope\.img is neither a block device nor an NTFS image file\n$/)
  r = await capture([join(work, 'tree.wim'), 'ref-win', url, await h.token('adv-capture')])
  t.not(r.code, 0, 'not an NTFS volume')
  t.match(r.err, /^capture\.sh: error: wimcapture of .* failed \(exit \d+\): .+\n$/)
  r = await capture([volume, 'ref-win', 'http://127.0.0.1:1/pe/v1/capture/ref-win', 'x'], { CAPTURE_RETRIES: '1' })
  t.match(r.err, /^capture\.sh: error: upload of ref-win failed after 1 retries \(HTTP 000\)/)
  t.same(await h.ctx.store.images.list(), [], 'nothing catalogued by any of these')
})

t.test('an ext4 volume (a Linux reference machine): mounted read-only, captured with its UNIX data', async t => {
  // The volume as a Linux reference machine's root has it: owners, a setuid binary, a symlink, a device node.
  const src = join(work, 'linux-tree')
  await makeTree(src, { 'etc/hostname': 'reference\n', 'usr/bin/tool': randomBytes(300_000), 'home/alice/notes.txt': 'mine\n' })
  execFileSync('chown', ['1000:1000', join(src, 'home/alice/notes.txt')])
  execFileSync('chmod', ['640', join(src, 'home/alice/notes.txt')])
  execFileSync('chmod', ['4755', join(src, 'usr/bin/tool')])
  await symlink('tool', join(src, 'usr/bin/tool-link'))
  execFileSync('mknod', [join(src, 'null'), 'c', '1', '3'])
  const image = join(work, 'volume.ext4')
  execFileSync('truncate', ['-s', '32M', image])
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', src, image])
  const loop = execFileSync('losetup', ['-f', '--show', image]).toString().trim()
  t.teardown(() => { execFileSync('losetup', ['-d', loop]) })

  const { h, port } = await listening(t)
  const r = await capture(['auto', 'ref-win', `http://127.0.0.1:${port}/pe/v1/capture/ref-win`, await h.token('adv-capture'), 'Linux reference', 'xpress'],
    { CAPTURE_DEVICES: loop })
  t.equal(r.code, 0, r.err)
  t.match(r.out, `${loop} is ext4: capturing its files with --unix-data`)
  t.notMatch(execFileSync('sh', ['-c', 'cat /proc/mounts']).toString(), `${work}/`, 'the read-only mount is gone afterwards')
  const e = await h.ctx.store.images.get('ref-win')
  t.ok(e, 'catalogued')
  const out = join(work, 'applied-linux')
  await sh('wimapply', [join(h.cfg.paths.images, e!.file), '1', out, '--unix-data'])
  const stat = (p: string): string => execFileSync('stat', ['-c', '%a %u:%g %F', join(out, p)]).toString().trim()
  t.equal(stat('home/alice/notes.txt'), '640 1000:1000 regular file', 'owner, group and mode kept')
  t.equal(stat('usr/bin/tool'), '4755 0:0 regular file', 'setuid kept')
  t.equal(stat('usr/bin/tool-link'), '777 0:0 symbolic link', 'symlink kept')
  t.equal(stat('null'), '644 0:0 character special file', 'device node kept')
  const diff = await sh('diff', ['-r', '--no-dereference', '-x', 'lost+found', '-x', 'null', src, out]).then(() => '', (err: { stdout?: string }) => err.stdout ?? 'diff failed')
  t.equal(diff, '', 'the same files, byte for byte')
})
