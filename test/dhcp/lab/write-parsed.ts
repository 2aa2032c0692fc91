// Writes <name>.parsed next to every test/fixtures/dhcp/<name>.bin: the decoder's readable dump.
// Run after capture.sh, then REVIEW the diff by eye before committing: the golden test trusts these files.
//   npx tsx test/dhcp/lab/write-parsed.ts
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decode } from '../../../src/dhcp/packet.js'
import { describe } from '../../../src/dhcp/format.js'

const dir = new URL('../../fixtures/dhcp/', import.meta.url).pathname
for (const f of readdirSync(dir).filter(n => n.endsWith('.bin')).sort()) {
  const text = describe(decode(readFileSync(join(dir, f))))
  writeFileSync(join(dir, f.replace(/\.bin$/, '.parsed')), text)
  console.log('wrote', f.replace(/\.bin$/, '.parsed'))
}
