// The image store on real files: add/list/info/verify/remove, atomicity when the catalogue or the disk fails,
// and a real ENOSPC on a tiny tmpfs mounted by the test.
import t from 'tap'
import { mkdtemp, rm, readFile, writeFile, readdir, mkdir, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { createMemoryStore, failingStore } from '../../src/store/index.js'
import { createImageStore } from '../../src/images/store.js'
import { ImageError, WimError } from '../../src/images/errors.js'
import { fixedClock } from '../../src/clock.js'
import { sh, makeTree, SAMPLE_TREE } from './wimlib.js'

const dir = await mkdtemp(join(tmpdir(), 'nbi-store-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
await makeTree(join(dir, 'src'), SAMPLE_TREE)
const wim = join(dir, 'sample.wim')
await sh('wimcapture', ['--compress=none', join(dir, 'src'), wim, 'Sample', 'for the store'])
const wimBytes = await readFile(wim)
const { createHash } = await import('node:crypto')
const wimSha = createHash('sha256').update(wimBytes).digest('hex')

const taskSequences = [
  { id: 'ts-win', variables: {}, steps: [{ type: 'partition', scheme: 'auto', filesystem: 'ntfs' }, { type: 'applyImage', image: 'win', index: 1 }] },
  { id: 'ts-other', variables: {}, steps: [{ type: 'reboot' }] }
] as any

let n = 0
function fresh (opts: { failPut?: () => boolean, imagesDir?: string, freeBytes?: (d: string) => Promise<number> } = {}) {
  const inner = createMemoryStore()
  const store = opts.failPut === undefined ? inner : failingStore(inner, (c, m) => c === 'images' && m === 'put' && opts.failPut!())
  const imagesDir = opts.imagesDir ?? join(dir, `images-${++n}`)
  const images = createImageStore({
    catalog: store.images, dir: imagesDir, config: () => ({ taskSequences }), clock: fixedClock('2026-11-23T10:00:00Z'), freeBytes: opts.freeBytes
  })
  return { images, catalog: inner.images, imagesDir }
}

async function code (p: Promise<unknown>): Promise<string | undefined> {
  return await p.then(() => undefined, (e: ImageError | WimError) => e.code)
}

t.test('add, list, info, verify, remove', async t => {
  const { images, imagesDir } = fresh()
  const e = await images.add(wim, 'win')
  t.equal(e.file, 'win.wim')
  t.equal(e.size, wimBytes.length)
  t.equal(e.sha256, wimSha)
  t.equal(e.addedAt, '2026-11-23T10:00:00.000Z')
  t.equal(e.wim.images[0].name, 'Sample')
  t.equal(e.wim.images[0].fileCount, 5)
  t.same(await readFile(join(imagesDir, 'win.wim')), wimBytes, 'the stored file is a byte-identical copy')
  t.same(await readdir(imagesDir), ['win.wim'], 'no temp file left behind')
  t.ok(await stat(wim), 'copy keeps the source')
  await images.add(wim, 'other')
  t.same((await images.list()).map(i => i.id), ['other', 'win'])
  t.equal((await images.info('win')).sha256, wimSha)
  t.equal(await code(images.info('nope')), 'NB_ERR_IMAGE_NOT_FOUND')
  t.equal(await code(images.add(wim, 'win')), 'NB_ERR_IMAGE_EXISTS')
  t.equal(await code(images.add(wim, '../etc')), 'NB_ERR_IMAGE_BAD_ID')
  t.equal(await code(images.add(join(dir, 'missing.wim'), 'm')), 'NB_ERR_IMAGE_SOURCE')

  const ok = await images.verify('win')
  t.equal(ok.ok, true)
  t.same(ok.problems, [])
  // Flip one byte in the middle of the stored file: verify must notice.
  const p = join(imagesDir, 'win.wim')
  const b = await readFile(p)
  b[300] ^= 0xff
  await writeFile(p, b)
  const bad = await images.verify('win')
  t.equal(bad.ok, false)
  t.match(bad.problems.join('\n'), /SHA-256 is [0-9a-f]{64}, catalog says/)
  t.not(bad.actualSha256, wimSha)

  t.equal(await code(images.remove('win')), 'NB_ERR_IMAGE_IN_USE', 'referenced by ts-win: refused')
  t.ok(await stat(p), 'refused removal keeps the file')
  t.ok(await images.info('win'), 'and the entry')
  const r = await images.remove('win', { force: true })
  t.same(r.referencedBy, ['ts-win'])
  t.equal(r.forced, true)
  t.equal(await code(images.info('win')), 'NB_ERR_IMAGE_NOT_FOUND')
  t.same(await readdir(imagesDir), ['other.wim'])
  await images.remove('other')
  t.same(await images.list(), [])
})

t.test('a non-WIM is refused before anything is copied', async t => {
  const { images, imagesDir } = fresh()
  const junk = join(dir, 'junk.wim')
  await writeFile(junk, Buffer.alloc(4096, 1))
  t.equal(await code(images.add(junk, 'junk')), 'NB_ERR_WIM_BAD_MAGIC')
  t.same(await readdir(imagesDir).catch(() => []), [])
})

t.test('move: renamed on the same file system; source restored when the catalogue fails', async t => {
  let fail = true
  const { images, imagesDir, catalog } = fresh({ failPut: () => fail })
  const src = join(dir, 'to-move.wim')
  await writeFile(src, wimBytes)
  t.equal(await code(images.add(src, 'moved', { move: true })), 'NB_ERR_STORE')
  t.same(await readFile(src), wimBytes, 'source is back')
  t.same(await readdir(imagesDir), [], 'no file in the image store')
  t.same(await catalog.list(), [], 'no catalogue entry')
  fail = false
  const e = await images.add(src, 'moved', { move: true })
  t.equal(e.sha256, wimSha)
  t.equal(await stat(src).then(() => true, () => false), false, 'source moved away')
})

t.test('copy: catalogue failure after the rename leaves neither file nor entry', async t => {
  const { images, imagesDir, catalog } = fresh({ failPut: () => true })
  t.equal(await code(images.add(wim, 'x')), 'NB_ERR_STORE')
  t.same(await readdir(imagesDir), [])
  t.same(await catalog.list(), [])
})

t.test('a stored file that disappeared: verify reports it, remove still drops the entry', async t => {
  const { images, imagesDir } = fresh()
  await images.add(wim, 'gone')
  await rm(join(imagesDir, 'gone.wim'))
  const v = await images.verify('gone')
  t.equal(v.ok, false)
  t.match(v.problems[0], /ENOENT/)
  await images.remove('gone')
  t.same(await images.list(), [])
})

t.test('disk full on a real 1 MiB tmpfs', async t => {
  const mnt = join(dir, 'tmpfs')
  await mkdir(mnt)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'nbi-tmpfs', mnt])
  } catch (err) {
    t.pass(`SKIPPED: cannot mount a tmpfs here (needs root): ${String(err)}`)
    return
  }
  t.teardown(() => { execFileSync('umount', [mnt]) })
  const big = join(dir, 'big')
  await makeTree(big, { 'a.bin': (await import('node:crypto')).randomBytes(1536 * 1024) })
  const bigWim = join(dir, 'big.wim')
  await sh('wimcapture', ['--compress=none', big, bigWim, 'Big'])

  // Up front: statfs says it cannot fit.
  const a = fresh({ imagesDir: join(mnt, 'a') })
  const err = await a.images.add(bigWim, 'big').then(() => undefined, (e: ImageError) => e)
  t.equal(err?.code, 'NB_ERR_DISK_FULL')
  t.equal(err?.statusCode, 507)
  t.match(err?.message, /not enough free space in .*: 1\.\d MiB needed/)
  t.same(await a.catalog.list(), [])

  // Mid-write: the up-front check is told there is room, the kernel says ENOSPC halfway through.
  const b = fresh({ imagesDir: join(mnt, 'b'), freeBytes: async () => 1e12 })
  const err2 = await b.images.add(bigWim, 'big').then(() => undefined, (e: ImageError) => e)
  t.equal(err2?.code, 'NB_ERR_DISK_FULL')
  t.match(err2?.message, /disk full while writing .*ENOSPC.*nothing was stored/)
  t.same(await readdir(join(mnt, 'b')), [], 'the partial temp file was removed')
  t.same(await b.catalog.list(), [])

  // The same disk still takes an image that fits.
  const e = await b.images.add(wim, 'small')
  t.equal(e.sha256, wimSha)
})

t.test('sweep removes stale temp files only', async t => {
  const { images, imagesDir } = fresh()
  await images.add(wim, 'keep')
  await writeFile(join(imagesDir, '.keep.wim.0123456789ab.tmp'), 'x')
  t.same(await images.sweep(3600_000), [], 'a fresh temp file may belong to a running add')
  t.same(await images.sweep(-1), ['.keep.wim.0123456789ab.tmp'])
  t.same(await readdir(imagesDir), ['keep.wim'])
})
