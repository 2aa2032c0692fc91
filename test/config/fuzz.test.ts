// Whatever the file holds, loading it resolves (never throws) and every issue has a position inside the file.
import t from 'tap'
import fc from 'fast-check'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'
import { loadConfigText } from '../../src/config/load.js'
import { NOW, ONE_NIC } from './fixtures.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const opts = { now: NOW, networkInterfaces: ONE_NIC, cwd: '/nonexistent-nb-fuzz', checkFiles: false }

async function wellFormed (text: string): Promise<boolean> {
  const r = await loadConfigText(text, '/fuzz/appliance.yaml', opts)
  const lines = text.split('\n').length + 1
  const issues = r.ok ? r.warnings : [...r.errors, ...r.warnings]
  if (!r.ok && r.errors.length === 0) return false
  return issues.every(i => i.line >= 0 && i.line <= lines && typeof i.message === 'string' && i.message.length > 0)
}

t.test('random text never throws', async t => {
  await fc.assert(fc.asyncProperty(fc.string({ maxLength: 200 }), wellFormed), { numRuns: 300 })
  t.pass('300 random texts')
})

t.test('random YAML values never throw', async t => {
  await fc.assert(fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async v => await wellFormed(stringify(v))), { numRuns: 300 })
  t.pass('300 random documents')
})

t.test('the datacenter example with one value replaced by junk: never throws, always reported', async t => {
  const base = await readFile(`${root}config/examples/datacenter.yaml`, 'utf8')
  const lines = base.split('\n')
  const valueLines = lines.map((l, i) => [l, i] as const).filter(([l]) => /^\s*[A-Za-z]+: \S/.test(l) && !l.trim().startsWith('#'))
  const junk = fc.constantFrom('[]', '{}', '-1', 'true', '"x y"', '999999999999', 'null', '0.5', '"52:54"')
  await fc.assert(fc.asyncProperty(fc.nat({ max: valueLines.length - 1 }), junk, async (k, j) => {
    const [line, i] = valueLines[k]
    const copy = [...lines]
    copy[i] = line.replace(/: .*$/, `: ${j}`)
    return await wellFormed(copy.join('\n'))
  }), { numRuns: 200 })
  t.pass('200 mutated examples')
})
