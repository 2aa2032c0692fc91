// Print the config reference generated from src/config/schema.ts, or with --write put it into README.md
// between <!-- config-reference:start --> and <!-- config-reference:end -->.
//   npx tsx scripts/config-reference.ts [--write | --check]
import { readFile, rename, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { currentSection, renderConfigReference, replaceSection } from '../src/config/reference.js'

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url))
const arg = process.argv[2]
const text = renderConfigReference()

if (arg === '--write') {
  const readme = await readFile(readmePath, 'utf8')
  const next = replaceSection(readme, text)
  if (next !== readme) {
    const tmp = `${readmePath}.${process.pid}.tmp`
    await writeFile(tmp, next)
    await rename(tmp, readmePath)
    console.log(`updated the config reference in ${readmePath}`)
  } else {
    console.log('README config reference already up to date')
  }
} else if (arg === '--check') {
  const readme = await readFile(readmePath, 'utf8')
  if (currentSection(readme) !== text) {
    console.error('README config reference is out of date: run `npx tsx scripts/config-reference.ts --write`')
    process.exitCode = 1
  }
} else if (arg === undefined) {
  process.stdout.write(text)
} else {
  console.error('usage: npx tsx scripts/config-reference.ts [--write | --check]')
  process.exitCode = 2
}
