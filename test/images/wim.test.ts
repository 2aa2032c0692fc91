// readWimInfo against WIMs made by the real wimlib, compared field by field with `wiminfo`; truncated and
// corrupt files must be rejected with the expected NB_ERR_WIM_ code.
import t, { type Test } from 'tap'
import { mkdtemp, rm, readFile, writeFile, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readWimInfo, type WimInfo } from '../../src/images/wim.js'
import { WimError } from '../../src/images/errors.js'
import { sh, makeTree, SAMPLE_TREE, parseWiminfo, parseWiminfoHeader, asWimlibTime } from './wimlib.js'

const dir = await mkdtemp(join(tmpdir(), 'nbi-wim-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const src = join(dir, 'src')
await makeTree(src, SAMPLE_TREE)

const WIMLIB_ARCH: Record<string, string> = { x86: 'x86', x64: 'x86_64', arm: 'ARM', arm64: 'ARM64', ia64: 'ia64' }
const COMPRESSION_LABEL: Record<string, string> = { none: 'None', xpress: 'XPRESS', lzx: 'LZX', lzms: 'LZMS' }

/** Every field wiminfo prints must equal what readWimInfo returned. */
async function compareWithWiminfo (t: Test, path: string, info: WimInfo): Promise<void> {
  const { wim, images } = parseWiminfo(await sh('wiminfo', [path]))
  const hdr = parseWiminfoHeader(await sh('wiminfo', ['--header', path]))
  t.equal(`0x${info.guid}`, wim.GUID, 'GUID')
  t.equal(String(info.version), wim.Version, 'version')
  t.equal(String(info.imageCount), wim['Image Count'], 'image count')
  t.equal(COMPRESSION_LABEL[info.compression], wim.Compression, 'compression')
  t.equal(`${info.chunkSize} bytes`, wim['Chunk Size'], 'chunk size')
  t.equal(`${info.partNumber}/${info.totalParts}`, wim['Part Number'], 'part number')
  t.equal(String(info.bootIndex), wim['Boot Index'], 'boot index')
  t.equal(`${info.totalBytes} bytes`, wim.Size, 'total bytes')
  t.equal(info.pipable, /Pipable/.test(wim.Attributes), 'pipable attribute')
  t.equal(`0x${info.flags.toString(16)}`, hdr.Flags, 'header flags')
  t.equal(String(info.resources.xml.offset), hdr['XML Data Offset'], 'XML offset')
  t.equal(String(info.resources.xml.sizeInWim), hdr['XML Data Size'], 'XML size')
  t.equal(String(info.resources.offsetTable.offset), hdr['Blob Table Offset'], 'blob table offset')
  t.equal(String(info.resources.integrity.offset), hdr['Integrity Offset'], 'integrity offset')
  t.equal(info.images.length, images.length, 'image records')
  for (const [i, w] of images.entries()) {
    const m = info.images[i]
    t.equal(String(m.index), w.Index, `image ${i + 1} index`)
    t.equal(m.name, w.Name, `image ${i + 1} name`)
    t.equal(m.description ?? '', w.Description, `image ${i + 1} description`)
    t.equal(m.displayName, w['Display Name'], `image ${i + 1} display name`)
    t.equal(String(m.dirCount), w['Directory Count'], `image ${i + 1} dir count`)
    t.equal(String(m.fileCount), w['File Count'], `image ${i + 1} file count`)
    t.equal(String(m.totalBytes), w['Total Bytes'], `image ${i + 1} total bytes`)
    t.equal(String(m.hardLinkBytes), w['Hard Link Bytes'], `image ${i + 1} hard link bytes`)
    t.equal(asWimlibTime(m.createdAt ?? ''), w['Creation Time'], `image ${i + 1} creation time`)
    t.equal(asWimlibTime(m.modifiedAt ?? ''), w['Last Modification Time'], `image ${i + 1} modification time`)
    t.equal(m.flags, w.Flags, `image ${i + 1} flags`)
    t.equal(m.editionId, w['Edition ID'], `image ${i + 1} edition id`)
    t.equal(m.arch === undefined ? undefined : WIMLIB_ARCH[m.arch], w.Architecture, `image ${i + 1} arch`)
  }
}

for (const c of ['none', 'XPRESS', 'LZX', 'LZMS']) {
  t.test(`single image, --compress=${c}`, async t => {
    const p = join(dir, `c-${c}.wim`)
    await sh('wimcapture', [`--compress=${c}`, src, p, `Image ${c}`, `captured with ${c}`])
    const info = await readWimInfo(p)
    t.equal(info.magic, 'MSWIM')
    t.equal(info.compression, c.toLowerCase())
    t.equal(info.fileSize, (await stat(p)).size)
    t.equal(info.images[0].fileCount, 5)
    await compareWithWiminfo(t, p, info)
  })
}

t.test('several images (wimappend), boot index, edition, arch, display name', async t => {
  const p = join(dir, 'multi.wim')
  await sh('wimcapture', [src, p, 'Base', 'the first one'])
  await makeTree(join(dir, 'src2'), { 'only.txt': 'second image\n', 'a/b/c/d.txt': 'deep\n' })
  await sh('wimappend', [join(dir, 'src2'), p, 'Second', '--flags=Professional'])
  await sh('wimappend', [src, p, 'Third & <last>', 'quotes " and \' and ünïcødé ✓'])
  await sh('wiminfo', [p, '2', '--image-property', 'WINDOWS/ARCH=9', '--image-property', 'WINDOWS/EDITIONID=Professional',
    '--image-property', 'DISPLAYNAME=Windows Pro (test)'])
  await sh('wiminfo', [p, '3', '--image-property', 'WINDOWS/ARCH=12'])
  await sh('wiminfo', [p, '2', '--boot'])
  const info = await readWimInfo(p)
  t.equal(info.imageCount, 3)
  t.equal(info.bootIndex, 2)
  t.same(info.images.map(i => i.name), ['Base', 'Second', 'Third & <last>'])
  t.equal(info.images[1].edition, 'Professional')
  t.equal(info.images[1].arch, 'x64')
  t.equal(info.images[2].arch, 'arm64')
  t.equal(info.images[2].description, 'quotes " and \' and ünïcødé ✓')
  t.equal(info.images[1].fileCount, 2)
  await compareWithWiminfo(t, p, info)
})

t.test('pipable WIM written to a file and streamed to a pipe', async t => {
  const file = join(dir, 'pipable.wim')
  await sh('wimcapture', ['--pipable', src, file, 'Piped'])
  const a = await readWimInfo(file)
  t.equal(a.magic, 'WLPWM')
  t.equal(a.pipable, true)
  await compareWithWiminfo(t, file, a)
  // Streamed: the first header's resource headers are zero; the real one is the last 208 bytes.
  const streamed = join(dir, 'streamed.wim')
  await writeFile(streamed, await sh('wimcapture', ['--pipable', src, '-', 'Streamed'], { encoding: 'buffer' }) as unknown as Buffer)
  const b = await readWimInfo(streamed)
  t.equal(b.headerOffset, b.fileSize - 208, 'resources come from the final header')
  t.equal(b.images[0].name, 'Streamed')
  await compareWithWiminfo(t, streamed, b)
})

async function expectCode (t: Test, p: string, code: string, what: string): Promise<void> {
  const err = await readWimInfo(p).then(() => undefined, (e: unknown) => e)
  t.type(err, WimError, `${what}: a WimError`)
  t.equal((err as WimError).code, code, `${what}: ${code}`)
  t.match((err as WimError).message, p, `${what}: message names the file`)
}

t.test('truncated files are rejected', async t => {
  const whole = await readFile(join(dir, 'c-LZX.wim'))
  const xmlOff = (await readWimInfo(join(dir, 'c-LZX.wim'))).resources.xml.offset
  const cuts: Array<[number, string]> = [[0, 'NB_ERR_WIM_TRUNCATED'], [7, 'NB_ERR_WIM_TRUNCATED'], [207, 'NB_ERR_WIM_TRUNCATED'],
    [208, 'NB_ERR_WIM_OUT_OF_BOUNDS'], [Math.floor(whole.length / 2), 'NB_ERR_WIM_OUT_OF_BOUNDS'],
    [xmlOff + 2, 'NB_ERR_WIM_OUT_OF_BOUNDS'], [whole.length - 1, 'NB_ERR_WIM_OUT_OF_BOUNDS']]
  for (const [n, code] of cuts) {
    const p = join(dir, `cut-${n}.wim`)
    await writeFile(p, whole.subarray(0, n))
    await expectCode(t, p, code, `cut at ${n} of ${whole.length}`)
  }
  const streamed = await readFile(join(dir, 'streamed.wim'))
  for (const n of [300, Math.floor(streamed.length / 2), streamed.length - 1]) {
    const p = join(dir, `scut-${n}.wim`)
    await writeFile(p, streamed.subarray(0, n))
    await expectCode(t, p, 'NB_ERR_WIM_TRUNCATED', `streamed pipable cut at ${n} of ${streamed.length}`)
  }
})

/** Copies the sample WIM, lets `mutate` patch the bytes, and expects `code`. */
async function corrupt (t: Test, name: string, code: string, mutate: (b: Buffer, info: WimInfo) => void): Promise<void> {
  const base = join(dir, 'multi.wim')
  const buf = Buffer.from(await readFile(base))
  mutate(buf, await readWimInfo(base))
  const p = join(dir, `bad-${name}.wim`)
  await writeFile(p, buf)
  await expectCode(t, p, code, name)
}

t.test('corrupt files are rejected with the expected code', async t => {
  await corrupt(t, 'magic', 'NB_ERR_WIM_BAD_MAGIC', b => b.write('MZ', 0, 'latin1'))
  await corrupt(t, 'xml-offset-beyond-eof', 'NB_ERR_WIM_OUT_OF_BOUNDS', b => b.writeBigUInt64LE(BigInt(b.length + 10), 80))
  await corrupt(t, 'xml-garbage', 'NB_ERR_WIM_BAD_XML', (b, i) => b.write('<<<<garbage', i.resources.xml.offset + 20, 'utf16le'))
  await corrupt(t, 'xml-unclosed', 'NB_ERR_WIM_BAD_XML', (b, i) => b.write('X', i.resources.xml.offset + i.resources.xml.sizeInWim - 4, 'utf16le'))
  await corrupt(t, 'xml-lone-surrogate', 'NB_ERR_WIM_BAD_XML', (b, i) => b.writeUInt16LE(0xd800, i.resources.xml.offset + 10))
  await corrupt(t, 'xml-odd-size', 'NB_ERR_WIM_BAD_XML', (b, i) => {
    b.writeUInt32LE(i.resources.xml.sizeInWim - 1, 72); b.writeBigUInt64LE(BigInt(i.resources.xml.sizeInWim - 1), 88)
  })
  await corrupt(t, 'xml-wrong-root', 'NB_ERR_WIM_BAD_XML', (b, i) => {
    b.write('<XIM>', i.resources.xml.offset + 2, 'utf16le')
    b.write('</XIM>', b.lastIndexOf(Buffer.from('</WIM>', 'utf16le')), 'utf16le')
  })
  await corrupt(t, 'xml-bad-count', 'NB_ERR_WIM_BAD_XML', (b, i) => {
    const off = b.indexOf(Buffer.from('<DIRCOUNT>', 'utf16le'), i.resources.xml.offset)
    b.write('z', off + 20, 'utf16le')
  })
  await corrupt(t, 'xml-compressed-flag', 'NB_ERR_WIM_UNSUPPORTED', b => { b[79] |= 0x04 })
  await corrupt(t, 'image-count', 'NB_ERR_WIM_IMAGE_COUNT', b => b.writeUInt32LE(4, 44))
  await corrupt(t, 'boot-index', 'NB_ERR_WIM_BAD_HEADER', b => b.writeUInt32LE(9, 120))
  await corrupt(t, 'two-compressions', 'NB_ERR_WIM_BAD_HEADER', b => b.writeUInt32LE(0x2 | 0x20000 | 0x40000, 16))
  await corrupt(t, 'part-number', 'NB_ERR_WIM_BAD_HEADER', b => b.writeUInt16LE(3, 40))
  await corrupt(t, 'header-size', 'NB_ERR_WIM_BAD_HEADER', b => b.writeUInt32LE(100, 8))
  await corrupt(t, 'no-xml', 'NB_ERR_WIM_BAD_HEADER', b => b.fill(0, 72, 96))
  await corrupt(t, 'index-order', 'NB_ERR_WIM_BAD_XML', (b, i) => {
    const off = b.indexOf(Buffer.from('INDEX="2"', 'utf16le'), i.resources.xml.offset)
    b.write('7', off + 14, 'utf16le')
  })
})

t.test('a missing file is NB_ERR_WIM_IO', async t => {
  await expectCode(t, join(dir, 'nope.wim'), 'NB_ERR_WIM_IO', 'missing')
})

t.test('the committed fixture reads as documented', async t => {
  const info = await readWimInfo(new URL('../fixtures/wim/two-images.wim', import.meta.url).pathname)
  t.equal(info.imageCount, 2)
  t.same(info.images.map(i => i.name), ['Fixture One', 'Fixture Two'])
  t.equal(info.compression, 'none')
})
