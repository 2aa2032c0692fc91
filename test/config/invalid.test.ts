// A table of broken configs: each must be rejected with a message an admin understands, on the right line.
import t from 'tap'
import { formatIssue, type ConfigIssue } from '../../src/config/issues.js'
import { load, makeImageStore, tempDir } from './fixtures.js'

interface Case {
  name: string
  yaml: string[]          // one entry per line: line N of the file is yaml[N-1]
  message: string | RegExp
  line: number
  hint?: string | RegExp
}

const ts = (...steps: string[]): string[] => [
  'images:',
  '  - { id: win11, file: two.wim }',
  'taskSequences:',
  '  - id: deploy',
  '    steps:',
  ...steps
]

const cases: Case[] = [
  { name: 'YAML syntax: bad indentation', yaml: ['server:', '  address: auto', ' bind: 0.0.0.0'], message: /YAML: .*same column/, line: 3 },
  { name: 'YAML syntax: unclosed flow sequence', yaml: ['images: [', '  { id: a, file: a.wim }', 'ports:', '  http: 80'], message: /YAML: /, line: 3 },
  { name: 'YAML syntax: tab indentation', yaml: ['server:', '\taddress: auto'], message: /YAML: .*[Tt]ab/, line: 2, hint: /spaces/ },
  { name: 'YAML: a key written twice', yaml: ['ports:', '  http: 80', '  tftp: 69', '  http: 8080'], message: /YAML: Map keys must be unique/, line: 4 },
  { name: 'YAML: alias to an undefined anchor', yaml: ['ports:', '  http: 80', 'server: *defaults'], message: /YAML: Unresolved alias/, line: 3 },
  { name: 'YAML: alias bomb ("billion laughs")', yaml: ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefgh'.split('').map((n, i) => `${n}: &${n} [${Array(9).fill('*' + 'abcdefgh'[i]).join(', ')}]`)], message: /YAML: Excessive alias count/, line: 2 },
  { name: 'wrong type: string for a port', yaml: ['ports:', '  tftp: 69', '  http: eighty'], message: "ports.http: expected a whole number, got 'eighty'", line: 3 },
  { name: 'wrong type: boolean', yaml: ['tftp:', '  enabled: maybe'], message: "tftp.enabled: expected true or false, got 'maybe'", line: 2 },
  { name: 'wrong type: map where a list belongs', yaml: ['images:', '  id: a', '  file: a.wim'], message: 'images: expected a list (- item lines, or [a, b]), got a map', line: 2 },
  { name: 'unknown key at the top level', yaml: ['server:', '  address: auto', 'dhcpp:', '  mode: proxy'], message: "unknown key 'dhcpp' at the top level", line: 3, hint: "did you mean 'dhcp'?" },
  { name: 'unknown key at depth 2', yaml: ['server:', '  adress: 10.0.0.1'], message: "unknown key 'adress' in server", line: 2, hint: "did you mean 'address'?" },
  { name: 'unknown key at depth 3 (full DHCP block)', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.10', '    poolEnd: 10.0.0.20', '    subnetMask: 255.255.255.0', '    gateway: 10.0.0.1'], message: "unknown key 'gateway' in dhcp.full", line: 7 },
  { name: 'unknown key in a step (depth 5)', yaml: ts('      - type: partition', '      - type: applyImage', '        image: win11', '        idx: 2'), message: "unknown key 'idx' in taskSequences[0].steps[1]", line: 9 },
  { name: 'unknown key in a collection member', yaml: ['collections:', '  - id: lab', '    members:', '      - macc: 52:54:00:12:34:56'], message: "unknown key 'macc' in collections[0].members[0]", line: 4, hint: "did you mean 'mac'?" },
  { name: 'missing required: image file', yaml: ['images:', '  - id: win11', '    description: no file'], message: "images[0]: missing required key 'file'", line: 2 },
  { name: 'missing required: advertisement collection', yaml: ['taskSequences:', '  - { id: ts, steps: [{ type: reboot }] }', 'advertisements:', '  - id: ad', '    taskSequence: ts'], message: "advertisements[0]: missing required key 'collection'", line: 4 },
  { name: 'missing required key in a nested map', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.10', '    subnetMask: 255.255.255.0'], message: "dhcp.full: missing required key 'poolEnd'", line: 3 },
  { name: 'dangling advertisement → task sequence', yaml: ['taskSequences:', '  - { id: deploy, steps: [{ type: reboot }] }', 'collections:', '  - { id: lab }', 'advertisements:', '  - id: ad', '    taskSequence: deploi', '    collection: lab'], message: "task sequence 'deploi' is not defined", line: 7, hint: "did you mean 'deploy'?" },
  { name: 'dangling advertisement → collection', yaml: ['taskSequences:', '  - { id: deploy, steps: [{ type: reboot }] }', 'advertisements:', '  - id: ad', '    taskSequence: deploy', '    collection: nowhere'], message: "collection 'nowhere' is not defined", line: 6, hint: 'no collections are defined' },
  { name: 'step naming a missing image', yaml: ts('      - type: partition', '      - type: applyImage', '        image: win10'), message: "image 'win10' is not defined", line: 8 },
  { name: 'applyImage index beyond the WIM image count', yaml: ts('      - type: partition', '      - type: applyImage', '        image: win11', '        index: 3'), message: "index 3 is beyond image 'win11', whose WIM holds 2 images", line: 9 },
  { name: 'image file that is not a WIM', yaml: ['images:', '  - id: junk', '    file: bogus.wim'], message: /image 'junk': .*bogus\.wim is not a readable WIM/, line: 3 },
  { name: 'duplicate MAC in a collection (two spellings)', yaml: ['collections:', '  - id: lab', '    members:', '      - mac: 52-54-00-12-34-56', '      - mac: "5254.0012.3456"'], message: "mac 52:54:00:12:34:56 is listed twice in collection 'lab'", line: 5, hint: 'first at line 4' },
  { name: 'duplicate MAC in protected', yaml: ['protected:', '  - { mac: "00:50:56:01:00:10", name: dc01 }', '  - { mac: 00-50-56-01-00-10, name: dc01-again }'], message: 'mac 00:50:56:01:00:10 is listed twice in protected', line: 3 },
  { name: 'duplicate UUID in protected (braces vs dashes)', yaml: ['protected:', '  - uuid: "{564D1A2B-3C4D-5E6F-7081-92A3B4C5D6E7}"', '  - uuid: 564d1a2b3c4d5e6f708192a3b4c5d6e7'], message: 'uuid 564d1a2b-3c4d-5e6f-7081-92a3b4c5d6e7 is listed twice in protected', line: 3 },
  { name: 'malformed MAC', yaml: ['collections:', '  - id: lab', '    members:', '      - mac: 52:54:00:12:34'], message: "'52:54:00:12:34' is not a MAC address", line: 4 },
  { name: 'multicast MAC', yaml: ['protected:', '  - mac: 01:00:5e:00:00:01'], message: 'is not a NIC address', line: 2 },
  { name: 'malformed UUID', yaml: ['collections:', '  - id: lab', '    members:', '      - uuid: 4c4c4544-0042-3510-8052'], message: "'4c4c4544-0042-3510-8052' is not an SMBIOS UUID", line: 4 },
  { name: 'malformed macPrefix', yaml: ['collections:', '  - id: lab', '    rules:', '      - macPrefix: "52:5"'], message: "'52:5' is not a MAC prefix", line: 4 },
  {
    name: 'protected machine in a required collection (by mac)',
    yaml: ['taskSequences:', '  - { id: wipe, steps: [{ type: partition }] }', 'collections:', '  - id: servers', '    members:', '      - { mac: 00:50:56:01:00:10 }', 'advertisements:', '  - { id: ad, taskSequence: wipe, collection: servers, purpose: required }', 'protected:', '  - { mac: 00-50-56-01-00-10, name: dc01 }'],
    message: "protected machine 00:50:56:01:00:10 is a member of collection 'servers', which required advertisement 'ad' targets",
    line: 6,
    hint: 'protected at line 10'
  },
  {
    name: 'protected machine in a required collection (by macPrefix rule)',
    yaml: ['taskSequences:', '  - { id: wipe, steps: [{ type: partition }] }', 'collections:', '  - id: vms', '    rules:', '      - macPrefix: 525400', 'advertisements:', '  - { id: ad, taskSequence: wipe, collection: vms, purpose: required }', 'protected:', '  - { mac: 52:54:00:99:00:01, name: build-server }'],
    message: "protected machine 52:54:00:99:00:01 matches rule macPrefix 52:54:00 of collection 'vms'",
    line: 6
  },
  { name: 'start after expires', yaml: ['taskSequences:', '  - { id: ts, steps: [{ type: reboot }] }', 'collections: [{ id: c }]', 'advertisements:', '  - id: ad', '    taskSequence: ts', '    collection: c', '    expires: "2026-07-01T00:00:00Z"', '    start: "2026-08-01T00:00:00Z"'], message: 'is not before expires', line: 9 },
  { name: 'bad date-time', yaml: ['taskSequences:', '  - { id: ts, steps: [{ type: reboot }] }', 'collections: [{ id: c }]', 'advertisements:', '  - id: ad', '    taskSequence: ts', '    collection: c', '    start: next tuesday'], message: "advertisements[0].start: 'next tuesday' is not an ISO 8601 date-time", line: 8 },
  { name: 'bad enum', yaml: ['dhcp:', '  mode: ful'], message: "dhcp.mode: 'ful' is not one of proxy, full, off", line: 2, hint: "did you mean 'full'?" },
  { name: 'bad enum inside a step', yaml: ts('      - type: partition', '        scheme: gtp'), message: "taskSequences[0].steps[0].scheme: 'gtp' is not one of auto, gpt, mbr", line: 7, hint: "did you mean 'gpt'?" },
  { name: 'bad IPv4 address', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.10', '    poolEnd: 10.0.0.20', '    subnetMask: 255.255.255.0', '    router: 10.0.0.300'], message: "dhcp.full.router: '10.0.0.300' is not an IPv4 address", line: 7 },
  { name: 'server.address neither IPv4 nor auto', yaml: ['server:', '  address: deploy.example.net'], message: 'is neither an IPv4 address nor "auto"', line: 2 },
  { name: 'port out of range', yaml: ['ports:', '  http: 70000'], message: 'ports.http: number 70000 is out of range (must be <= 65535)', line: 2 },
  { name: 'two UDP services on one port', yaml: ['ports:', '  dhcp: 6767', '  tftp: 6767'], message: 'ports.tftp and ports.dhcp are both UDP port 6767', line: 3 },
  { name: 'duplicate collection ids', yaml: ['collections:', '  - id: lab', '  - id: office', '  - id: lab'], message: "duplicate collection id 'lab'", line: 4, hint: 'first defined at line 2' },
  { name: 'duplicate task sequence ids', yaml: ['taskSequences:', '  - id: deploy', '    steps: [{ type: reboot }]', '  - id: deploy', '    steps: [{ type: reboot }]'], message: "duplicate task sequence id 'deploy'", line: 4 },
  { name: 'duplicate advertisement ids', yaml: ['taskSequences: [{ id: t, steps: [{ type: reboot }] }]', 'collections: [{ id: c }]', 'advertisements:', '  - { id: ad, taskSequence: t, collection: c }', '  - { id: ad, taskSequence: t, collection: c }'], message: "duplicate advertisement id 'ad'", line: 5 },
  { name: 'invalid id', yaml: ['images:', '  - id: my image', '    file: a.wim'], message: "images[0].id: 'my image' is not a valid id", line: 2 },
  { name: 'unknown step type', yaml: ts('      - type: partition', '      - type: aplyImage', '        image: win11'), message: "unknown step type 'aplyImage' (expected partition, applyImage, applyFiles, setComputerName, runCommand, makeBootable, reboot, capture)", line: 7, hint: "did you mean 'applyImage'?" },
  { name: 'step without a type', yaml: ts('      - image: win11'), message: "taskSequences[0].steps[0]: missing required key 'type'", line: 6 },
  { name: 'step written as a bare word', yaml: ts('      - type: partition', '      - reboot'), message: "taskSequences[0].steps[1]: expected a step with a type", line: 7, hint: 'write it as a map: "- type: reboot"' },
  { name: 'task sequence without steps', yaml: ['taskSequences:', '  - id: empty', '    steps: []'], message: 'taskSequences[0].steps: needs at least 1 entry', line: 3 },
  { name: 'full DHCP mode without a full block', yaml: ['dhcp:', '  answer: all', '  mode: full'], message: 'dhcp.mode is full but there is no dhcp.full block', line: 3 },
  { name: 'pool end outside the subnet', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 192.168.1.100', '    poolEnd: 192.168.2.20', '    subnetMask: 255.255.255.0'], message: 'poolEnd 192.168.2.20 is outside the subnet 192.168.1.0/24', line: 5 },
  { name: 'pool start after pool end', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.200', '    poolEnd: 10.0.0.100', '    subnetMask: 255.255.255.0'], message: 'poolStart 10.0.0.200 is after poolEnd 10.0.0.100', line: 4 },
  { name: 'reservation with a bad MAC', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.100', '    poolEnd: 10.0.0.150', '    subnetMask: 255.255.255.0', '    reservations:', '      - mac: 52:54:00:12:34', '        ip: 10.0.0.20'], message: "'52:54:00:12:34' is not a MAC address", line: 8 },
  { name: 'reservation outside the subnet', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.100', '    poolEnd: 10.0.0.150', '    subnetMask: 255.255.255.0', '    reservations:', '      - mac: 52:54:00:12:34:56', '        ip: 10.0.1.20'], message: 'reserved address 10.0.1.20 is not a host address of the subnet 10.0.0.0/24', line: 9 },
  { name: 'two reservations of one address', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.100', '    poolEnd: 10.0.0.150', '    subnetMask: 255.255.255.0', '    reservations:', '      - { mac: 52:54:00:12:34:56, ip: 10.0.0.20 }', '      - { mac: 52-54-00-12-34-57, ip: 10.0.0.20 }'], message: 'reserved address 10.0.0.20 is already reserved for 52:54:00:12:34:56', line: 9 },
  { name: 'one MAC reserved twice', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.100', '    poolEnd: 10.0.0.150', '    subnetMask: 255.255.255.0', '    reservations:', '      - { mac: 52:54:00:12:34:56, ip: 10.0.0.20 }', '      - { mac: 5254.0012.3456, ip: 10.0.0.21 }'], message: '52:54:00:12:34:56 is reserved twice (reservations 1 and 2)', line: 9 },
  { name: 'reservation of the router address', yaml: ['dhcp:', '  mode: full', '  full:', '    poolStart: 10.0.0.100', '    poolEnd: 10.0.0.150', '    subnetMask: 255.255.255.0', '    router: 10.0.0.1', '    reservations:', '      - { mac: 52:54:00:12:34:56, ip: 10.0.0.1 }'], message: 'reserved address 10.0.0.1 is already the router', line: 9 },
  { name: 'member with only a name', yaml: ['collections:', '  - id: lab', '    members:', '      - name: the printer'], message: "entry in collection 'lab' has no mac, uuid or serial", line: 4 },
  { name: 'empty member entry', yaml: ['protected:', '  - {}'], message: 'protected[0]: empty entry', line: 2 },
  { name: 'image file escaping the store', yaml: ['images:', '  - id: a', '    file: ../../etc/shadow'], message: "'../../etc/shadow' must be a relative path inside paths.images", line: 3 },
  { name: 'top level is not a map', yaml: ['- server', '- dhcp'], message: 'the config must be a map of settings', line: 1 },
  { name: 'server.bind not an IPv4 address', yaml: ['server:', '  bind: any'], message: "server.bind 'any' is not an IPv4 address", line: 2 },
  { name: 'httpBaseUrl not a URL', yaml: ['server:', '  httpBaseUrl: deploy.example.net/boot'], message: 'is not an http:// or https:// URL', line: 2 }
]

t.test('invalid configs: message and line', async t => {
  const dir = await tempDir(t)
  await makeImageStore(dir)
  t.ok(cases.length >= 25, `${cases.length} cases`)
  for (const c of cases) {
    const res = await load(c.yaml.join('\n') + '\n', { cwd: dir })
    const errors: ConfigIssue[] = res.ok ? [] : res.errors
    const hit = errors.find(e => typeof c.message === 'string' ? e.message.includes(c.message) : c.message.test(e.message))
    const shown = errors.map(e => formatIssue(e)).join('\n')
    t.ok(hit, `${c.name}: reports ${String(c.message)}${hit === undefined ? `\ngot:\n${shown}` : ''}`)
    if (hit === undefined) continue
    t.equal(hit.line, c.line, `${c.name}: on line ${c.line}${hit.line !== c.line ? ` (${formatIssue(hit)})` : ''}`)
    t.ok(hit.column >= 1, `${c.name}: with a column`)
    t.equal(hit.file, `${dir}/appliance.yaml`, `${c.name}: names the file`)
    if (c.hint !== undefined) t.match(hit.hint ?? '', c.hint, `${c.name}: hint`)
  }
})

t.test('a file with many problems reports every one, in file order', async t => {
  const dir = await tempDir(t)
  await makeImageStore(dir)
  const yaml = [
    'server:',                                           // 1
    '  address: auto',                                   // 2
    '  colour: blue',                                    // 3  unknown key
    'ports:',                                            // 4
    '  http: "80"',                                      // 5  wrong type
    'images:',                                           // 6
    '  - { id: win11, file: two.wim }',                  // 7
    'taskSequences:',                                    // 8
    '  - id: deploy',                                    // 9
    '    steps:',                                        // 10
    '      - { type: partition }',                       // 11
    '      - { type: applyImage, image: win11, index: 5 }', // 12 index beyond
    '      - { type: applyImage, image: win7 }',         // 13 missing image
    '      - { type: formatDisk }',                      // 14 unknown step type
    'collections:',                                      // 15
    '  - id: lab',                                       // 16
    '    members:',                                      // 17
    '      - mac: 52:54:00:00:00:01',                    // 18
    '      - mac: 52-54-00-00-00-01',                    // 19 duplicate MAC
    'advertisements:',                                   // 20
    '  - { id: a, taskSequence: deploy, collection: lab, purpose: required }',
    '  - { id: b, taskSequence: nope, collection: lab }', // 22 dangling
    'protected:',                                        // 23
    '  - mac: 525400000001'                              // 24 protected in required collection (reported at 18)
  ].join('\n')
  const res = await load(yaml, { cwd: dir })
  t.equal(res.ok, false)
  if (res.ok) return
  const lines = res.errors.map(e => e.line)
  t.same(lines, [3, 5, 12, 13, 14, 18, 19, 22], res.errors.map(e => formatIssue(e)).join('\n'))
  t.same(res.errors.map(e => e.path), [
    '/server/colour', '/ports/http', '/taskSequences/0/steps/1/index', '/taskSequences/0/steps/2/image',
    '/taskSequences/0/steps/3/type', '/collections/0/members/0', '/collections/0/members/1/mac', '/advertisements/1/taskSequence'
  ], 'each issue carries its JSON pointer for the admin API')
})

t.test('problems that are only warnings do not fail the load', async t => {
  const dir = await tempDir(t)
  const yaml = [
    'images:',
    '  - { id: later, file: not-yet-captured.wim }',
    'taskSequences: [{ id: t, steps: [{ type: partition }, { type: applyImage, image: later, index: 4 }] }]',
    'collections:',
    '  - id: c',
    '    members: [{ serial: To Be Filled By O.E.M. }]',
    'advertisements:',
    '  - { id: old, taskSequence: t, collection: c, expires: "2026-01-01T00:00:00Z" }',
    'dhcp:',
    '  full: { poolStart: 10.0.0.10, poolEnd: 10.0.0.20, subnetMask: 255.255.255.0 }'
  ].join('\n')
  const res = await load(yaml, { cwd: dir })
  t.equal(res.ok, true, res.ok ? '' : res.errors.map(e => formatIssue(e)).join('\n'))
  const msgs = res.warnings.map(w => `${w.line}: ${w.message}`)
  t.match(msgs, [/^2: WIM file .*not-yet-captured\.wim for image 'later' does not exist yet/, /^6: serial 'To Be Filled By O.E.M.' is a vendor placeholder/, /^8: advertisement 'old' expired/, /^10: dhcp.full is ignored because dhcp.mode is proxy/])
  t.equal(res.warnings.length, 4, 'and nothing else')
})

t.test('risky combinations are warnings with their line', async t => {
  const dir = await tempDir(t)
  const yaml = [
    'tftp: { enabled: false }',                                                   // 1
    'http: { adminToken: secret }',                                               // 2
    'taskSequences:',
    '  - { id: wipe, steps: [{ type: partition }] }',
    '  - { id: grab, steps: [{ type: capture, image: ref }] }',
    'collections:',
    '  - { id: vms, rules: [{ macPrefix: "52:54:00" }] }',
    '  - { id: empty }',
    'advertisements:',
    '  - { id: loop, taskSequence: wipe, collection: vms, purpose: required, rerun: always }', // 10
    '  - { id: cap, taskSequence: grab, collection: vms, purpose: required }',               // 11
    '  - { id: none, taskSequence: wipe, collection: empty }'                                // 12
  ].join('\n')
  const res = await load(yaml, { cwd: dir })
  t.equal(res.ok, true, res.ok ? '' : res.errors.map(e => formatIssue(e)).join('\n'))
  t.match(res.warnings.map(w => `${w.line}: ${w.message}`), [
    /^1: TFTP is disabled but DHCP answers PXE clients/,
    /^2: http.adminToken is only 6 characters long/,
    /^10: required advertisement 'loop' with rerun: always runs again at every PXE boot/,
    /^11: two required advertisements target collection 'vms'/,
    /^11: required advertisement 'cap' runs a capture sequence on a collection of several machines/,
    /^12: collection 'empty' has no members and no rules/
  ])
  t.equal(res.warnings.length, 6)
})

t.test('makeBootable: after an NTFS partition step or before any image, a warning with its line', async t => {
  const dir = await tempDir(t)
  const yaml = [
    'images:',
    '  - { id: deb, file: two.wim }',
    'taskSequences:',
    '  - id: linux',                                                         // 4
    '    steps:',
    '      - { type: partition, filesystem: ext4 }',
    '      - { type: applyImage, image: deb }',
    '      - { type: makeBootable, kernelArgs: "console=ttyS0,115200" }',    // 8: fine
    '  - id: ntfs',
    '    steps:',
    '      - { type: partition }',
    '      - { type: applyImage, image: deb }',
    '      - { type: makeBootable }',                                        // 13: NTFS (the default)
    '  - id: early',
    '    steps:',
    '      - { type: partition, filesystem: ext4 }',
    '      - { type: makeBootable }',                                        // 17: before applyImage
    '      - { type: applyImage, image: deb }'
  ].join('\n')
  await makeImageStore(dir)
  const res = await load(yaml, { cwd: dir })
  t.equal(res.ok, true, res.ok ? '' : res.errors.map(e => formatIssue(e)).join('\n'))
  t.match(res.warnings.map(w => `${w.line}: ${w.message} (${w.hint ?? ''})`), [
    /^13: task sequence 'ntfs': makeBootable after a partition step that formats NTFS \(.*filesystem: ext4.*bcdboot/,
    /^17: task sequence 'early': makeBootable before any applyImage step/
  ])
  t.equal(res.warnings.length, 2, 'and nothing else')
})

t.test('makeBootable: kernelArgs on several lines is an error on its line', async t => {
  const dir = await tempDir(t)
  const yaml = [
    'images: [{ id: deb, file: two.wim }]',
    'taskSequences:',
    '  - id: linux',
    '    steps:',
    '      - { type: partition, filesystem: ext4 }',
    '      - { type: applyImage, image: deb }',
    '      - type: makeBootable',
    '        kernelArgs: "quiet\\ninsmod evil"'                                  // 8
  ].join('\n')
  await makeImageStore(dir)
  const res = await load(yaml, { cwd: dir })
  t.equal(res.ok, false)
  t.match(res.ok ? [] : res.errors.map(e => `${e.line}: ${e.message}`), [/^8: .*kernelArgs must be one line/])
})
