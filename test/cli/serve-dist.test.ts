// The compiled package (npm run build → dist/, which `npm test` does first) runs as `node dist/src/main.js`
// from any directory and finds the embedded config in the package's config/ directory.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repo } from './serve-harness.js'

const main = join(repo, 'dist/src/main.js')
const skip = existsSync(main) ? false : 'dist/ not built (npm test builds it; run `npm run build`)'

t.test('node dist/src/main.js --help, serve --help and check-config work from another directory', { skip }, async t => {
  const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: tmpdir(), encoding: 'utf8' })
  const help = run('--help')
  t.equal(help.status, 0, help.stderr)
  t.match(help.stdout, /^ {2}serve +run the appliance/m)
  const serveHelp = run('serve', '--help')
  t.equal(serveHelp.status, 0)
  t.match(serveHelp.stdout, `the embedded ${join(repo, 'config/appliance.yaml')}`, 'the embedded config is the package\'s, not dist/config')
  const check = run('check-config')
  t.equal(check.status, 0, `check-config on the embedded config: ${check.stdout}${check.stderr}`)
})

t.test('the compiled package finds the native/udp-batch addon (the DHCP ports\' recvmmsg reader)', { skip }, async t => {
  const probe = `import(${JSON.stringify(join(repo, 'dist/src/net/udp-batch.js'))}).then(m => console.log(m.loadUdpBatch().reason ?? 'loaded'))`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: tmpdir(), encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  t.equal(r.stdout.trim(), 'loaded')
})
