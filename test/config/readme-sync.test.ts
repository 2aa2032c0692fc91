// README's config reference must be what scripts/config-reference.ts generates from the schema.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { currentSection, renderConfigReference, replaceSection, START_MARKER, END_MARKER } from '../../src/config/reference.js'

const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url))

t.test('README config reference is in sync with src/config/schema.ts', async t => {
  const readme = await readFile(readmePath, 'utf8')
  const section = currentSection(readme)
  t.ok(section !== undefined, `README.md has ${START_MARKER} … ${END_MARKER}`)
  t.equal(section, renderConfigReference(),
    'README config reference differs from the schema: run `npx tsx scripts/config-reference.ts --write` and commit README.md')
})

t.test('the reference documents every top-level key and every step type', async t => {
  const text = renderConfigReference()
  for (const k of ['server', 'ports', 'dhcp', 'tftp', 'http', 'bootLoaders', 'paths', 'deployment', 'images', 'taskSequences', 'collections', 'advertisements', 'protected']) {
    t.match(text, `### \`${k}\``, k)
  }
  for (const s of ['partition', 'applyImage', 'applyFiles', 'setComputerName', 'runCommand', 'reboot', 'capture']) {
    t.match(text, `#### \`type: ${s}\``, s)
  }
  t.match(text, '| `full.poolStart` | string (ipv4) | **required** |', 'nested keys are flattened with their type')
  t.match(text, '| `index` | integer ≥ 1 | `1` |', 'step fields show their defaults')
})

t.test('replaceSection touches only the text between the markers', async t => {
  const before = `# Title\n\nintro\n${START_MARKER}\nold text\n${END_MARKER}\n\nafter\n`
  const after = replaceSection(before, 'NEW\n')
  t.equal(after, `# Title\n\nintro\n${START_MARKER}\nNEW\n${END_MARKER}\n\nafter\n`)
  t.equal(currentSection(after), 'NEW\n')
  t.throws(() => replaceSection('no markers', 'x'), /config-reference/)
})
