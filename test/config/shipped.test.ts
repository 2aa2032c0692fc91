// The configs we ship must load: the embedded default with no errors and no warnings, the examples with
// no errors, and the commented example model inside the default must stay valid when uncommented.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { EMBEDDED_CONFIG_PATH, loadConfigFile, loadConfigText } from '../../src/config/load.js'
import { formatIssue } from '../../src/config/issues.js'
import { NOW, ONE_NIC } from './fixtures.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const opts = { now: NOW, networkInterfaces: ONE_NIC, cwd: root }

t.test('config/appliance.yaml: no errors, no warnings, proxy mode', async t => {
  const r = await loadConfigFile(EMBEDDED_CONFIG_PATH, opts)
  t.same(r.ok ? [] : r.errors.map(e => formatIssue(e)), [], 'no errors')
  t.same(r.warnings.map(w => formatIssue(w, 'warning')), [], 'no warnings')
  if (!r.ok) return
  t.equal(r.config.dhcp.mode, 'proxy')
  t.equal(r.config.server.address, '10.9.8.7')
  t.equal(r.config.tftp.root, '/usr/lib/ipxe')
  t.equal(r.config.bootLoaders.bios, 'undionly.kpxe')
  t.equal(r.config.bootLoaders.efiX64, 'ipxe.efi')
  t.equal(r.config.paths.images, `${root}images`)
  t.equal(r.config.advertisements.length, 0, 'deploys nothing until told to')
})

t.test('the example model in appliance.yaml is valid once uncommented', async t => {
  const text = await readFile(EMBEDDED_CONFIG_PATH, 'utf8')
  const lines = text.split('\n')
  const a = lines.findIndex(l => l.includes('example model: start'))
  const b = lines.findIndex(l => l.includes('example model: end'))
  t.ok(a > 0 && b > a, 'markers present')
  const uncommented = lines.map((l, i) => i > a && i < b ? l.replace(/^#/, '') : l).join('\n')
  const r = await loadConfigText(uncommented, EMBEDDED_CONFIG_PATH, opts)
  t.same(r.ok ? [] : r.errors.map(e => formatIssue(e)), [], 'no errors')
  if (!r.ok) return
  const c = r.config
  t.same(new Set(c.taskSequences.flatMap(s => s.steps.map(st => st.type))),
    new Set(['partition', 'applyImage', 'applyFiles', 'setComputerName', 'runCommand', 'reboot', 'capture']), 'shows every step type')
  t.ok(c.collections.some(col => col.members.length > 0 && col.rules.length > 0), 'a collection with members and rules')
  t.ok(c.advertisements.some(ad => ad.purpose === 'available'), 'an available advertisement')
  t.ok(c.protected.length > 0, 'a protected site server')
  t.equal(c.collections[0].members[0].mac, '52:54:00:12:34:56', 'its MAC spelling is normalized')
})

for (const name of ['datacenter.yaml', 'isolated-lab.yaml']) {
  t.test(`config/examples/${name} loads with no errors`, async t => {
    const r = await loadConfigFile(`${root}config/examples/${name}`, opts)
    t.same(r.ok ? [] : r.errors.map(e => formatIssue(e)), [], 'no errors')
    for (const w of r.warnings) {
      t.match(w.message, /does not exist yet|server.address .* is not an address of this machine/, 'only missing-WIM and foreign-address warnings')
    }
  })
}

t.test('datacenter example covers the model', async t => {
  const r = await loadConfigFile(`${root}config/examples/datacenter.yaml`, opts)
  if (!r.ok) return t.fail('does not load')
  const c = r.config
  t.ok(c.collections.length >= 3, 'several collections')
  t.ok(c.advertisements.some(a => a.purpose === 'required' && a.start !== undefined && a.expires !== undefined), 'a scheduled required advertisement')
  t.ok(c.advertisements.some(a => a.purpose === 'available'), 'an available advertisement')
  t.ok(c.collections.some(col => col.rules.some(rule => rule.unknown === true)), 'an unknown-computers collection')
  t.ok(c.taskSequences.some(s => s.steps.some(st => st.type === 'capture')), 'a capture sequence')
  t.ok(c.protected.length >= 2, 'protected servers')
  const lab = await loadConfigFile(`${root}config/examples/isolated-lab.yaml`, opts)
  t.equal(lab.ok && lab.config.dhcp.mode, 'full', 'isolated-lab runs full DHCP')
})
