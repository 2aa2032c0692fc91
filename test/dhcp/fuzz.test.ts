// Property/fuzz: 100,000 random and mutated packets. decode only ever throws DhcpDecodeError; whatever decodes
// can be classified, answered (proxy and full) and re-encoded without throwing.
import t from 'tap'
import fc from 'fast-check'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { decode, encode, DhcpDecodeError } from '../../src/dhcp/packet.js'
import { classify } from '../../src/dhcp/classify.js'
import { buildProxyReply } from '../../src/dhcp/proxy.js'
import { handleFull } from '../../src/dhcp/full.js'
import { LeaseTable } from '../../src/dhcp/leases.js'
import { describe } from '../../src/dhcp/format.js'
import { FULL, testConfig } from './helpers.js'

const dir = new URL('../fixtures/dhcp/', import.meta.url).pathname
const fixtures = readdirSync(dir).filter(f => f.endsWith('.bin')).map(f => readFileSync(join(dir, f)))
const proxyCfg = testConfig()
const fullCfg = testConfig({ dhcp: { mode: 'full', full: FULL } })
const table = new LeaseTable()
const counts = { decoded: 0, rejected: 0, answered: 0 }

function check (bytes: Uint8Array): boolean {
  let p
  try {
    p = decode(Buffer.from(bytes))
  } catch (err) {
    if (!(err instanceof DhcpDecodeError)) throw err
    if (typeof err.code !== 'string' || !Number.isInteger(err.offset) || err.offset < 0 || err.offset > bytes.length) {
      throw new Error(`bad error shape: ${err.code} @ ${err.offset}`)
    }
    counts.rejected++
    return true
  }
  counts.decoded++
  describe(p)
  decode(encode(p))
  for (const via of ['dhcp', 'proxy'] as const) {
    const pc = classify(p, via, 'proxy')
    if (pc.kind === 'request') { const r = buildProxyReply(pc, proxyCfg); if (r !== undefined) { encode(r); counts.answered++ } }
    const fc2 = classify(p, via, 'full')
    if (fc2.kind === 'request') { const o = handleFull(fc2, fullCfg, table, 0); if (o.reply !== undefined) encode(o.reply) }
  }
  return true
}

const rarely = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | null> =>
  fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: a, weight: 1 })

// Mutations of real captures: flip bytes, cut, splice random bytes in, or rewrite one option length.
const mutated = fc.record({
  base: fc.integer({ min: 0, max: fixtures.length - 1 }),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
  cut: rarely(fc.nat()),
  insert: rarely(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 32 }))),
  optLen: rarely(fc.tuple(fc.integer({ min: 240, max: 420 }), fc.integer({ min: 0, max: 255 })))
}).map(m => {
  let b = Buffer.from(fixtures[m.base])
  for (const [at, v] of m.flips) b[at % b.length] = v
  if (m.optLen !== null && m.optLen[0] + 1 < b.length) b[m.optLen[0] + 1] = m.optLen[1]
  if (m.insert !== null) { const at = m.insert[0] % b.length; b = Buffer.concat([b.subarray(0, at), m.insert[1], b.subarray(at)]) }
  if (m.cut !== null) b = b.subarray(0, m.cut % (b.length + 1))
  return new Uint8Array(b)
})

// Random packets that pass the header checks often enough to reach the option parser.
const headered = fc.tuple(fc.constantFrom(1, 2), fc.integer({ min: 0, max: 17 }), fc.uint8Array({ minLength: 233, maxLength: 233 }),
  fc.uint8Array({ maxLength: 400 }), fc.boolean())
  .map(([op, hlen, rest, opts, cookie]) => {
    const b = Buffer.concat([Buffer.from([op, 1, hlen]), rest.subarray(0, 233), cookie ? Buffer.from([99, 130, 83, 99]) : Buffer.from([0, 0, 0, 0]), opts])
    return new Uint8Array(b)
  })

t.test('100,000 random and mutated packets: only DhcpDecodeError, never a crash', async t => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 700 }), check), { numRuns: 30_000, seed: 1 })
  fc.assert(fc.property(headered, check), { numRuns: 30_000, seed: 2 })
  fc.assert(fc.property(mutated, check), { numRuns: 40_000, seed: 3 })
  t.equal(counts.decoded + counts.rejected, 100_000)
  // The fuzz must reach deep code, not just bounce off the header: both outcomes in quantity.
  t.ok(counts.decoded > 10_000, `decoded ${counts.decoded}`)
  t.ok(counts.rejected > 10_000, `rejected ${counts.rejected}`)
  t.ok(counts.answered > 1_000, `answered ${counts.answered}`)
})
