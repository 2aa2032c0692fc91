// Range, If-Range and If-None-Match decisions (RFC 9110 §13, §14) as tables.
import t from 'tap'
import { ifRangeAllows, notModified, parseRange } from '../../src/http/range.js'

t.test('parseRange against a 1000-byte file', async t => {
  const table: Array<[string | undefined, ReturnType<typeof parseRange>]> = [
    [undefined, { kind: 'full' }],
    ['bytes=0-99', { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', { kind: 'partial', start: 100, end: 999 }],
    ['bytes=990-5000', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=999-999', { kind: 'partial', start: 999, end: 999 }],
    ['bytes=-10', { kind: 'partial', start: 990, end: 999 }],
    ['bytes=-5000', { kind: 'partial', start: 0, end: 999 }],
    ['BYTES = 5-6', { kind: 'partial', start: 5, end: 6 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-2000', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=5-4', { kind: 'full' }],                 // invalid: ignored
    ['bytes=0-1,5-6', { kind: 'full' }],             // several ranges: served whole
    ['items=0-1', { kind: 'full' }],
    ['bytes=a-b', { kind: 'full' }],
    ['bytes=-', { kind: 'full' }],
    ['bytes=0x10-', { kind: 'full' }],
    ['bytes=99999999999999999999-', { kind: 'full' }],
    ['bytes=', { kind: 'full' }]
  ]
  for (const [h, want] of table) t.same(parseRange(h, 1000), want, String(h))
})

t.test('an empty file has no satisfiable range', async t => {
  t.same(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' })
  t.same(parseRange('bytes=-1', 0), { kind: 'unsatisfiable' })
  t.same(parseRange(undefined, 0), { kind: 'full' })
})

t.test('If-Range: strong ETag or the exact Last-Modified date', async t => {
  const lm = new Date('2026-02-03T04:05:06.789Z')
  t.ok(ifRangeAllows(undefined, '"a"', lm))
  t.ok(ifRangeAllows('"a"', '"a"', lm))
  t.notOk(ifRangeAllows('"b"', '"a"', lm))
  t.notOk(ifRangeAllows('W/"a"', '"a"', lm), 'weak tags never match (§13.1.5)')
  t.ok(ifRangeAllows('Tue, 03 Feb 2026 04:05:06 GMT', '"a"', lm))
  t.notOk(ifRangeAllows('Tue, 03 Feb 2026 04:05:05 GMT', '"a"', lm))
  t.notOk(ifRangeAllows('garbage', '"a"', lm))
})

t.test('If-None-Match', async t => {
  t.ok(notModified('"a"', '"a"'))
  t.ok(notModified('W/"a"', '"a"'))
  t.ok(notModified('"x", "a"', '"a"'))
  t.ok(notModified('*', '"a"'))
  t.notOk(notModified('"b"', '"a"'))
  t.notOk(notModified(undefined, '"a"'))
})
