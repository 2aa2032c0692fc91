// What services read after a load: identifiers in one spelling, address resolved, URL computed, paths
// absolute, defaults filled, everything frozen.
import t from 'tap'
import fc from 'fast-check'
import { join } from 'node:path'
import { normalizeMac, normalizeMacPrefix, normalizeUuid } from '../../src/config/ids.js'
import { EMBEDDED_CONFIG_PATH, packageRootFrom, type LoadResult } from '../../src/config/load.js'
import { formatIssue } from '../../src/config/issues.js'
import type { AppConfig } from '../../src/config/schema.js'
import { existsSync } from 'node:fs'
import type { Test } from 'tap'
import { load, tempDir } from './fixtures.js'

function ok (t: Test, r: LoadResult): AppConfig {
  if (!r.ok) t.fail(r.errors.map(e => formatIssue(e)).join('\n'))
  return (r as { config: AppConfig }).config
}

t.test('MAC spellings', async t => {
  for (const s of ['52:54:00:AB:cd:0f', '52-54-00-ab-cd-0f', '5254.00ab.cd0f', '525400ABCD0F', ' 52:54:00:ab:cd:0f ', '52:54:0:ab:cd:f']) {
    t.equal(normalizeMac(s), '52:54:00:ab:cd:0f', s)
  }
  for (const s of ['', '52:54:00:ab:cd', '52:54:00:ab:cd:0f:11', '52:54-00:ab:cd:0f', 'g2:54:00:ab:cd:0f', '5254.00ab.cd0', '525400abcd0', '52::54:00:ab:cd']) {
    t.equal(normalizeMac(s), undefined, `rejects '${s}'`)
  }
  fc.assert(fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.constantFrom(':', '-', '.', ''), fc.boolean(), (bytes, sep, upper) => {
    const hex = [...bytes].map(b => b.toString(16).padStart(2, '0'))
    const canonical = hex.join(':')
    let s = sep === '.' ? [hex.slice(0, 2).join(''), hex.slice(2, 4).join(''), hex.slice(4).join('')].join('.') : hex.join(sep)
    if (upper) s = s.toUpperCase()
    return normalizeMac(s) === canonical
  }))
})

t.test('UUID and MAC prefix spellings', async t => {
  const want = '4c4c4544-0042-3510-8052-b4c04f4a4e31'
  for (const s of ['4C4C4544-0042-3510-8052-B4C04F4A4E31', '{4c4c4544-0042-3510-8052-b4c04f4a4e31}', '4c4c454400423510' + '8052b4c04f4a4e31', '{4C4C454400423510' + '8052B4C04F4A4E31}']) {
    t.equal(normalizeUuid(s), want, s)
  }
  for (const s of ['4c4c4544-0042-3510-8052', 'not-a-uuid', '4c4c4544-0042-3510-8052-b4c04f4a4e3g']) t.equal(normalizeUuid(s), undefined, `rejects ${s}`)
  t.equal(normalizeMacPrefix('52-54-00'), '52:54:00')
  t.equal(normalizeMacPrefix('525400'), '52:54:00')
  t.equal(normalizeMacPrefix('00:1B:21'), '00:1b:21')
  t.equal(normalizeMacPrefix('52:5'), undefined, 'half an octet is not a prefix')
})

t.test('a loaded config is normalized, resolved, defaulted and frozen', async t => {
  const dir = await tempDir(t)
  const yaml = [
    'server: { address: auto }',
    'ports: { http: 8080 }',
    'paths: { images: store/wims, state: /var/tmp/nb-state }',
    'taskSequences:',
    '  - id: t',
    '    steps: [{ type: partition }, { type: applyImage, image: i }, { type: capture, image: new }]',
    'images: [{ id: i, file: i.wim }]',
    'collections:',
    '  - id: c',
    '    members:',
    '      - mac: AA-BB-CC-00-11-22',
    '      - mac: 001122334455',             // bare digits: YAML would read a number; we keep the text
    '      - uuid: "{4C4C4544-0042-3510-8052-B4C04F4A4E31}"',
    '      - serial: 00123',
    '    rules: [{ macPrefix: 52-54-00 }]',
    'protected: [{ mac: aabb.cc00.3344 }]'
  ].join('\n')
  const cfg = ok(t, await load(yaml, { cwd: dir }))
  t.equal(cfg.server.address, '10.9.8.7', '"auto" takes the first non-loopback IPv4 address')
  t.equal(cfg.httpBaseUrl, 'http://10.9.8.7:8080')
  t.equal(cfg.source, join(dir, 'appliance.yaml'))
  t.same(cfg.collections[0].members, [{ mac: 'aa:bb:cc:00:11:22' }, { mac: '00:11:22:33:44:55' }, { uuid: '4c4c4544-0042-3510-8052-b4c04f4a4e31' }, { serial: '00123' }])
  t.equal(cfg.collections[0].rules[0].macPrefix, '52:54:00')
  t.equal(cfg.protected[0].mac, 'aa:bb:cc:00:33:44')
  t.equal(cfg.paths.images, join(dir, 'store/wims'), 'relative paths resolve against the working directory')
  t.equal(cfg.paths.state, '/var/tmp/nb-state', 'absolute paths stay')
  t.equal(cfg.paths.pe, join(dir, 'boot/pe/build'), 'defaults are resolved too')
  t.equal(cfg.tftp.root, '/usr/lib/ipxe')
  t.same(cfg.taskSequences[0].steps[0], { type: 'partition', scheme: 'auto', filesystem: 'ntfs', continueOnError: false }, 'step defaults filled')
  t.same(cfg.taskSequences[0].steps[1], { type: 'applyImage', image: 'i', index: 1, continueOnError: false })
  t.same(cfg.taskSequences[0].steps[2], { type: 'capture', image: 'new', volume: 'auto', compression: 'lzx', continueOnError: false })
  t.same(cfg.taskSequences[0].variables, {})
  t.equal(cfg.dhcp.mode, 'proxy')
  t.equal(cfg.ports.tftp, 69)
  t.equal(cfg.advertisements.length, 0)
  t.ok(Object.isFrozen(cfg) && Object.isFrozen(cfg.collections[0].members[0]) && Object.isFrozen(cfg.taskSequences[0].steps), 'deep-frozen')
  t.throws(() => { (cfg.server as { address: string }).address = 'x' }, TypeError, 'cannot be mutated')
})

t.test('address, base URL and interfaces', async t => {
  const dir = await tempDir(t)
  const none = () => ({ lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }] })
  const r = await load('server: { address: auto }\n', { cwd: dir, networkInterfaces: none })
  const cfg = ok(t, r)
  t.equal(cfg.server.address, '127.0.0.1', 'no interface: loopback')
  t.match(r.warnings.map(w => w.message), [/no non-loopback IPv4 address/], 'with a warning')
  t.equal(r.warnings.length, 1)
  t.equal(cfg.httpBaseUrl, 'http://127.0.0.1', 'port 80 is not written')
  const r2 = await load('server: { address: 192.0.2.10, bind: 192.0.2.11, httpBaseUrl: "https://deploy.example.net/netboot//" }\n', { cwd: dir })
  const c2 = ok(t, r2)
  t.same(r2.warnings.map(w => [w.line, w.message.replace(/ \(.*\)$/, '')]), [
    [1, 'server.address 192.0.2.10 is not an address of this machine'],
    [1, 'server.bind 192.0.2.11 is not an address of this machine: the services will not start here']
  ], 'addresses that are not this machine\'s are warned about')
  t.equal(c2.server.address, '192.0.2.10')
  t.equal(c2.httpBaseUrl, 'https://deploy.example.net/netboot', 'no trailing slash')
  const c3 = ok(t, await load('', { cwd: dir }))
  t.equal(c3.dhcp.mode, 'proxy', 'an empty file is a config of defaults')
})

t.test('empty sections take their defaults; anchors and merge keys work', async t => {
  const dir = await tempDir(t)
  const yaml = [
    'http:',
    '  # adminToken: commented out, so http is null in YAML',
    'images:',
    'taskSequences:',
    '  - id: a',
    '    steps: &standard',
    '      - { type: partition }',
    '      - { type: reboot }',
    '  - id: b',
    '    steps: *standard',
    'collections:',
    '  - &lab',
    '    id: lab-1',
    '    rules: [{ arch: bios }]',
    '  - <<: *lab',
    '    id: lab-2'
  ].join('\n')
  const cfg = ok(t, await load(yaml, { cwd: dir }))
  t.equal(cfg.http.menuTimeoutSeconds, 10)
  t.same(cfg.images, [])
  t.same(cfg.taskSequences[1].steps.map(s => s.type), ['partition', 'reboot'])
  t.same(cfg.collections[1], { id: 'lab-2', rules: [{ arch: 'bios' }], members: [] })
})

t.test('EMBEDDED_CONFIG_PATH points at the shipped default', async t => {
  t.ok(EMBEDDED_CONFIG_PATH.endsWith('/config/appliance.yaml'))
  t.ok(existsSync(EMBEDDED_CONFIG_PATH), EMBEDDED_CONFIG_PATH)
  t.equal(packageRootFrom('/opt/netboot/src/config'), '/opt/netboot', 'run from sources (tsx)')
  t.equal(packageRootFrom('/opt/netboot/dist/src/config'), '/opt/netboot', 'run compiled from dist/')
})
