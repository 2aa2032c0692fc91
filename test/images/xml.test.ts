// The bounded XML parser behind the WIM catalogue, plus a property: random corruption of a real WIM's header
// and XML never escapes as anything but a WimError (or a successful read).
import t from 'tap'
import fc from 'fast-check'
import { mkdtemp, rm, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseXml, XmlSyntaxError } from '../../src/images/xml.js'
import { readWimInfo } from '../../src/images/wim.js'
import { WimError } from '../../src/images/errors.js'

t.test('well-formed documents', async t => {
  const el = parseXml('\ufeff<?xml version="1.0"?><!-- c --><WIM a="1" b=\'x &amp; y\'>t&lt;1&#x41;&#66;<![CDATA[<raw>]]><E/><F>f</F></WIM>\n')
  t.equal(el.name, 'WIM')
  t.same({ ...el.attrs }, { a: '1', b: 'x & y' })
  t.equal(el.text, 't<1AB<raw>')
  t.same(el.children.map(c => c.name), ['E', 'F'])
  t.equal(el.children[1].text, 'f')
})

t.test('malformed documents throw XmlSyntaxError with an offset', async t => {
  const bad = [
    '', 'text', '<A>', '<A></B>', '<A><B></A></B>', '<A x="1" x="2"/>', '<A x=1/>', '<A>&foo;</A>', '<A>&amp</A>',
    '<A>&#0;</A>', '<A>&#xD800;</A>', '<!DOCTYPE A [<!ENTITY e "x">]><A>&e;</A>', '<A/><B/>', '<A>\u0001</A>',
    '<A><!-- open</A>', '<A><![CDATA[x</A>', '<A>]]></A>', '<A b="<"/>'
  ]
  for (const s of bad) {
    t.throws(() => parseXml(s), XmlSyntaxError, JSON.stringify(s))
  }
})

t.test('depth and element limits', async t => {
  t.throws(() => parseXml('<A>'.repeat(40) + '</A>'.repeat(40)), /deeper than 32/)
  t.throws(() => parseXml('<A>' + '<B/>'.repeat(20) + '</A>', { maxElements: 10 }), /more than 10 elements/)
})

t.test('random corruption of a real WIM yields a WimError or a result, never anything else', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'nbi-wimfuzz-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const base = await readFile(new URL('../fixtures/wim/two-images.wim', import.meta.url).pathname)
  const xmlOff = (await readWimInfo(new URL('../fixtures/wim/two-images.wim', import.meta.url).pathname)).resources.xml.offset
  const p = join(dir, 'f.wim')
  const pos = fc.oneof(fc.integer({ min: 0, max: 207 }), fc.integer({ min: xmlOff, max: base.length - 1 }))
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(pos, fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
    fc.option(fc.integer({ min: 0, max: base.length }), { nil: undefined }), async (edits, cut) => {
      const b = Buffer.from(base)
      for (const [at, v] of edits) b[at] = v
      await writeFile(p, cut === undefined ? b : b.subarray(0, cut))
      try {
        await readWimInfo(p)
      } catch (err) {
        if (!(err instanceof WimError) || !/^NB_ERR_WIM_/.test(err.code)) throw err
      }
    }), { numRuns: 300 })
  t.pass('300 corrupted files')
})
