// `netboot check-config`: what an admin sees on a good and on a broken file.
import t from 'tap'
import { execFile } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { command } from '../../src/cli/check-config.js'
import { tempDir } from './fixtures.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

async function run (argv: string[]): Promise<{ code: number, out: string[], err: string[] }> {
  const out: string[] = []
  const err: string[] = []
  const code = await command.run(argv, { out: l => out.push(l), err: l => err.push(l) })
  return { code, out, err }
}

const BROKEN = [
  'server:',
  '  address: auto',
  '  bnd: 0.0.0.0',                                        // 3 unknown key
  'ports:',
  '  http: web',                                           // 5 wrong type
  'taskSequences:',
  '  - { id: wipe, steps: [{ type: partition }] }',
  'collections:',
  '  - id: servers',
  '    members:',
  '      - mac: 00:50:56:01:00:10',                        // 11 protected machine in a required collection
  '      - mac: 00-50-56-01-00-10',                        // 12 duplicate MAC
  'advertisements:',
  '  - { id: wipe-all, taskSequence: wipe, collection: servers, purpose: required }',
  '  - { id: other, taskSequence: wipe, collection: sevrers }', // 15 dangling reference
  'protected:',
  '  - { mac: 005056010010, name: dc01 }'
].join('\n')

t.test('the embedded default: exit 0 and a one-line summary', async t => {
  const r = await run([])
  t.equal(r.code, 0, r.err.join('\n'))
  t.equal(r.out.length, 1)
  t.match(r.out[0], /config\/appliance\.yaml: OK — 0 images, 0 task sequences, 0 collections, 0 advertisements, 0 protected machines; DHCP proxy; advertised address \d+\.\d+\.\d+\.\d+ \(http:\/\/[\d.]+\)$/)
})

t.test('an example: summary counts', async t => {
  const r = await run([join(root, 'config/examples/datacenter.yaml')])
  t.equal(r.code, 0)
  t.match(r.out[0], /OK \(\d warnings\) — 3 images, 4 task sequences, 5 collections, 5 advertisements, 4 protected machines; DHCP proxy; advertised address 10\.20\.0\.5 \(http:\/\/deploy\.corp\.example\.net\)/)
  const warnings = r.err.filter(l => l.includes(': warning: '))
  t.equal(warnings.filter(l => l.includes('does not exist yet')).length, 3, 'the three WIMs not in the store')
  t.equal(warnings.filter(l => l.includes('is not an address of this machine')).length, 1, 'its server.address is not ours')
  t.equal(warnings.length, 4)
})

t.test('a broken file: exit 1, every error with file:line:col', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'broken.yaml')
  await writeFile(file, BROKEN)
  const r = await run([file])
  t.equal(r.code, 1)
  t.same(r.out, [])
  const errs = r.err.filter(l => l.includes(': error: '))
  t.match(errs, [
    new RegExp(`^${file}:3:3: error: unknown key 'bnd' in server \\(hint: did you mean 'bind'\\?\\)$`),
    new RegExp(`^${file}:5:9: error: ports.http: expected a whole number, got 'web'$`),
    new RegExp(`^${file}:11:9: error: protected machine 00:50:56:01:00:10 is a member of collection 'servers', which required advertisement 'wipe-all' targets \\(hint: protected at line 17`),
    new RegExp(`^${file}:12:14: error: mac 00:50:56:01:00:10 is listed twice in collection 'servers' \\(hint: first at line 11\\)$`),
    new RegExp(`^${file}:15:50: error: collection 'sevrers' is not defined \\(hint: did you mean 'servers'\\?\\)$`)
  ])
  t.equal(errs.length, 5, 'exactly the five problems')
  t.match(r.err[r.err.length - 1], /5 errors; the config is not valid/)
})

t.test('a YAML syntax error: exit 1 with its line', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'syntax.yaml')
  await writeFile(file, 'server:\n  address: "auto\nports: {}\n')
  const r = await run([file])
  t.equal(r.code, 1)
  t.match(r.err[0], new RegExp(`^${file}:\\d+:\\d+: error: YAML: `))
})

t.test('usage', async t => {
  const help = await run(['--help'])
  t.equal(help.code, 0)
  t.match(help.out.join('\n'), /usage: netboot check-config \[FILE\]/)
  const bad = await run(['--frobnicate'])
  t.equal(bad.code, 2)
  t.match(bad.err[0], /unknown option '--frobnicate'/)
  t.equal((await run(['a.yaml', 'b.yaml'])).code, 2)
  const missing = await run(['/nonexistent/netboot.yaml'])
  t.equal(missing.code, 1)
  t.match(missing.err[0], /^\/nonexistent\/netboot\.yaml: error: cannot read config: ENOENT/)
})

t.test('through the netboot binary (node --import tsx src/main.ts)', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'broken.yaml')
  await writeFile(file, BROKEN)
  const exec = promisify(execFile)
  const good = await exec(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), 'check-config', join(root, 'config/appliance.yaml')], { cwd: root })
  t.match(good.stdout, /appliance\.yaml: OK/)
  const bad = await exec(process.execPath, ['--import', 'tsx', join(root, 'src/main.ts'), 'check-config', file], { cwd: root }).then(() => undefined, (e: { code: number, stderr: string }) => e)
  t.equal(bad?.code, 1, 'exits 1')
  t.match(bad?.stderr ?? '', `${file}:12:14: error: mac 00:50:56:01:00:10 is listed twice`)
})

t.test('bootLoaders.secureBoot without the chain\'s files: a warning with the line and the fix', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'sb.yaml')
  await writeFile(file, ['server:', '  address: 10.1.2.3', 'bootLoaders:', '  secureBoot: true', `  secureBootDir: ${join(dir, 'sb')}`].join('\n'))
  const r = await run([file])
  t.equal(r.code, 0, 'a warning, not an error: the appliance still serves everything else')
  t.match(r.err.filter(l => l.includes(': warning: Secure Boot')), [
    new RegExp(`^${file}:4:\\d+: warning: Secure Boot chain incomplete: no shimx64\\.efi or grubx64\\.efi in ${dir}/sb \\(hint: run scripts/fetch-trixie-loaders\\.sh`)
  ])
  await (await import('node:fs/promises')).mkdir(join(dir, 'sb'))
  for (const f of ['shimx64.efi', 'grubx64.efi']) await writeFile(join(dir, 'sb', f), 'x')
  const ok = await run([file])
  t.notMatch(ok.err.join('\n'), /Secure Boot chain/, 'with both files there, no warning')
})
