// The policy table: each row is a machine, a deployment model and a history, and what the boot must get —
// kind, the advertisement (or menu items in order) and a fragment of the trace an admin would read.
import t from 'tap'
import { decide } from '../../src/policy/decide.js'
import type { ClientIdentity } from '../../src/policy/types.js'
import type { Deployment, Machine } from '../../src/store/types.js'
import { baseConfig, dep, MAC, machine, model, SERIAL, UUID, type ModelSpec } from './helpers.js'

const NOW = new Date('2026-06-01T12:00:00.000Z')
const bios: ClientIdentity = { mac: MAC, arch: 'bios' }

interface Row {
  name: string
  spec: ModelSpec
  client?: ClientIdentity
  machine?: Machine
  history?: Deployment[]
  now?: Date
  kind: 'local' | 'deploy' | 'menu'
  /** deploy: the advertisement id; menu: the item ids in order */
  ad?: string | string[]
  trace: string
  /** local: a fragment of the reason */
  reason?: string
}

const lab = (over: object = {}) => ({ id: 'lab', members: [{ mac: MAC }], ...over })
const req = (id: string, collection: string, over: object = {}) => ({ id, collection, purpose: 'required' as const, ...over })
const avail = (id: string, collection: string, over: object = {}) => ({ id, collection, purpose: 'available' as const, ...over })
const one = (over: object = {}, col: object = {}): ModelSpec => ({ collections: [lab(col)], advertisements: [req('win', 'lab', over)] })

const rows: Row[] = [
  // ── nothing applies ────────────────────────────────────────────────────────────────────────────────────
  { name: 'empty model → local', spec: {}, kind: 'local', trace: 'in no collection' },
  { name: 'collection without advertisement → local with reason', spec: { collections: [lab()] }, kind: 'local', trace: 'no advertisement applies to this machine now' },
  { name: 'other machine only → local', spec: { collections: [{ id: 'lab', members: [{ mac: '52:54:00:00:00:01' }] }], advertisements: [req('win', 'lab')] }, kind: 'local', trace: 'in no collection' },

  // ── membership ─────────────────────────────────────────────────────────────────────────────────────────
  { name: 'member by mac, required → deploy', spec: one(), kind: 'deploy', ad: 'win', trace: `collection lab matched: member mac ${MAC}` },
  { name: 'uuid-only member', spec: one({}, { members: [{ uuid: UUID }] }), client: { ...bios, uuid: UUID }, kind: 'deploy', ad: 'win', trace: `member uuid ${UUID}` },
  { name: 'serial-only member (client reports it)', spec: one({}, { members: [{ serial: SERIAL }] }), client: { ...bios, serial: SERIAL }, kind: 'deploy', ad: 'win', trace: `member serial ${SERIAL}` },
  { name: 'serial-only member (inventory supplies it)', spec: one({}, { members: [{ serial: SERIAL }] }), machine: machine({ serial: SERIAL }), kind: 'deploy', ad: 'win', trace: `serial ${SERIAL} (inventory)` },
  { name: 'member entry needs every field: mac ok, serial differs', spec: one({}, { members: [{ mac: MAC, serial: 'OTHER' }] }), client: { ...bios, serial: SERIAL }, kind: 'local', trace: 'in no collection' },
  { name: 'uuid member but client sent no uuid', spec: one({}, { members: [{ uuid: UUID }] }), kind: 'local', trace: 'in no collection' },
  { name: 'arch rule matches', spec: one({}, { members: [], rules: [{ arch: 'efi-x64' }] }), client: { mac: MAC, arch: 'efi-x64' }, kind: 'deploy', ad: 'win', trace: 'matched: rule arch=efi-x64' },
  { name: 'arch rule does not match another arch', spec: one({}, { members: [], rules: [{ arch: 'efi-x64' }] }), kind: 'local', trace: 'in no collection' },
  { name: 'macPrefix rule matches', spec: one({}, { members: [], rules: [{ macPrefix: '52:54:00' }] }), kind: 'deploy', ad: 'win', trace: 'rule macPrefix=52:54:00' },
  { name: 'macPrefix rule mismatch', spec: one({}, { members: [], rules: [{ macPrefix: '00:50:56' }] }), kind: 'local', trace: 'in no collection' },
  { name: 'manufacturer+product rule, case-insensitive', spec: one({}, { members: [], rules: [{ manufacturer: 'qemu', product: 'STANDARD PC (i440FX + PIIX, 1996)' }] }), client: { ...bios, manufacturer: 'QEMU', product: 'Standard PC (i440FX + PIIX, 1996)' }, kind: 'deploy', ad: 'win', trace: 'rule manufacturer=qemu product=' },
  { name: 'rule needs all its fields (arch ok, manufacturer differs)', spec: one({}, { members: [], rules: [{ arch: 'bios', manufacturer: 'Dell Inc.' }] }), client: { ...bios, manufacturer: 'HP' }, kind: 'local', trace: 'in no collection' },
  { name: 'rule without conditions ({unknown:false}) matches nothing', spec: one({}, { members: [], rules: [{ unknown: false }] }), kind: 'local', trace: 'in no collection' },
  { name: 'unknown machine → unknown collection', spec: { collections: [{ id: 'unknown', rules: [{ unknown: true }] }], advertisements: [req('bare-metal', 'unknown')] }, kind: 'deploy', ad: 'bare-metal', trace: 'collection unknown matched: rule unknown (in no other collection)' },
  { name: 'known machine is not in the unknown collection', spec: { collections: [lab(), { id: 'unknown', rules: [{ unknown: true }] }], advertisements: [avail('tools', 'lab'), req('bare-metal', 'unknown')] }, kind: 'menu', ad: ['tools'], trace: 'advertisement tools (available, collection lab) → menu item' },
  { name: 'unknown rule with an arch condition', spec: { collections: [{ id: 'u-efi', rules: [{ unknown: true, arch: 'efi-x64' }] }], advertisements: [req('efi-only', 'u-efi')] }, kind: 'local', trace: 'in no collection' },

  // ── specificity and ties ───────────────────────────────────────────────────────────────────────────────
  { name: 'member beats rule (even with a later id)', spec: { collections: [lab(), { id: 'biosen', rules: [{ arch: 'bios' }] }], advertisements: [req('z-member', 'lab'), req('a-rule', 'biosen')] }, kind: 'deploy', ad: 'z-member', trace: 'shadowed: advertisement a-rule (required, collection biosen)' },
  { name: 'rule with more fields beats fewer', spec: { collections: [{ id: 'one', rules: [{ arch: 'bios' }] }, { id: 'two', rules: [{ arch: 'bios', macPrefix: '52:54:00' }] }], advertisements: [req('a-one', 'one'), req('b-two', 'two')] }, kind: 'deploy', ad: 'b-two', trace: 'shadowed: advertisement a-one' },
  { name: 'best rule of a collection counts', spec: { collections: [{ id: 'one', rules: [{ arch: 'efi-x64' }, { arch: 'bios', macPrefix: '52:54' }] }, { id: 'two', rules: [{ arch: 'bios' }] }], advertisements: [req('a-two', 'two'), req('b-one', 'one')] }, kind: 'deploy', ad: 'b-one', trace: 'rule arch=bios macPrefix=52:54' },
  { name: 'tie between rules → lowest advertisement id', spec: { collections: [{ id: 'c1', rules: [{ arch: 'bios' }] }, { id: 'c2', rules: [{ macPrefix: '52:54:00' }] }], advertisements: [req('b-ad', 'c1'), req('a-ad', 'c2')] }, kind: 'deploy', ad: 'a-ad', trace: 'shadowed: advertisement b-ad' },
  { name: 'tie between members → lowest advertisement id', spec: { collections: [lab(), { id: 'lab2', members: [{ mac: MAC }] }], advertisements: [req('m2', 'lab2'), req('m1', 'lab')] }, kind: 'deploy', ad: 'm1', trace: 'shadowed: advertisement m2' },
  { name: 'required beats available', spec: { collections: [lab()], advertisements: [avail('a-tools', 'lab'), req('z-win', 'lab')] }, kind: 'deploy', ad: 'z-win', trace: 'advertisement z-win (required, collection lab) → task sequence ts-a' },

  // ── protected machines ─────────────────────────────────────────────────────────────────────────────────
  { name: 'protected by config (mac) vs required → local', spec: { ...one(), protected: [{ mac: MAC, name: 'site server' }] }, kind: 'local', trace: `skipped: protected by the config (member mac ${MAC} (site server))` },
  { name: 'protected by config (uuid) vs required+available → menu only', spec: { collections: [lab()], advertisements: [req('win', 'lab'), avail('tools', 'lab')], protected: [{ uuid: UUID }] }, client: { ...bios, uuid: UUID }, kind: 'menu', ad: ['tools'], trace: 'advertisement win (required, collection lab) → skipped: protected by the config' },
  { name: 'protected by admin flag vs required → local', spec: one(), machine: machine({ protected: true }), kind: 'local', trace: 'protected by an admin', reason: 'win is required but the machine is protected by an admin' },
  { name: 'protected by admin flag vs available → menu still', spec: { collections: [lab()], advertisements: [avail('tools', 'lab')] }, machine: machine({ protected: true }), kind: 'menu', ad: ['tools'], trace: '→ menu of 1 available deployment(s)' },

  // ── schedule ───────────────────────────────────────────────────────────────────────────────────────────
  { name: 'before start → local', spec: one({ start: '2026-06-01T12:00:01.000Z' }), kind: 'local', trace: 'not offered: starts at 2026-06-01T12:00:01.000Z', reason: 'no advertisement applies to this machine now (win starts at 2026-06-01T12:00:01.000Z)' },
  { name: 'exactly at start → deploy', spec: one({ start: '2026-06-01T12:00:00.000Z' }), kind: 'deploy', ad: 'win', trace: 'never ran on this machine' },
  { name: 'after expiry → local', spec: one({ expires: '2026-06-01T11:59:59.000Z' }), kind: 'local', trace: 'not offered: expired at 2026-06-01T11:59:59.000Z' },
  { name: 'exactly at expiry → local (start ≤ now < expires)', spec: one({ expires: '2026-06-01T12:00:00.000Z' }), kind: 'local', trace: 'expired at 2026-06-01T12:00:00.000Z' },
  { name: 'inside the window → deploy', spec: one({ start: '2026-05-01T00:00:00Z', expires: '2026-07-01T00:00:00Z' }), kind: 'deploy', ad: 'win', trace: '→ task sequence ts-a' },

  // ── rerun × history ────────────────────────────────────────────────────────────────────────────────────
  { name: 'never × succeeded → local', spec: one({ rerun: 'never' }), history: [dep({ advertisementId: 'win', state: 'succeeded', id: 'd-ok' })], kind: 'local', trace: 'already deployment d-ok succeeded at 2026-05-01T11:00:00.000Z and rerun=never → skip' },
  { name: 'never × failed → local (runs once until re-image)', spec: one({ rerun: 'never' }), history: [dep({ advertisementId: 'win', state: 'failed', id: 'd-bad' })], kind: 'local', trace: 'deployment d-bad failed at', reason: 'win: already deployment d-bad failed at 2026-05-01T11:00:00.000Z and rerun=never → skip' },
  { name: 'ifFailed × failed → deploy', spec: one({ rerun: 'ifFailed' }), history: [dep({ advertisementId: 'win', state: 'failed' })], kind: 'deploy', ad: 'win', trace: 'rerun=ifFailed → runs again' },
  { name: 'ifFailed × succeeded → local', spec: one({ rerun: 'ifFailed' }), history: [dep({ advertisementId: 'win', state: 'succeeded' })], kind: 'local', trace: 'rerun=ifFailed → skip' },
  { name: 'ifFailed: only the latest attempt counts', spec: one({ rerun: 'ifFailed' }), history: [dep({ advertisementId: 'win', state: 'failed', createdAt: '2026-05-01T09:00:00.000Z' }), dep({ advertisementId: 'win', state: 'succeeded', createdAt: '2026-05-02T09:00:00.000Z', endedAt: '2026-05-02T10:00:00.000Z' })], kind: 'local', trace: 'succeeded at 2026-05-02T10:00:00.000Z and rerun=ifFailed → skip' },
  { name: 'always × succeeded → deploy', spec: one({ rerun: 'always' }), history: [dep({ advertisementId: 'win', state: 'succeeded' })], kind: 'deploy', ad: 'win', trace: 'rerun=always → runs again' },
  { name: 'always × running → local (PE rebooted mid-sequence)', spec: one({ rerun: 'always' }), history: [dep({ advertisementId: 'win', state: 'running', id: 'd-run', currentStep: 1, updatedAt: '2026-06-01T11:30:00.000Z' })], kind: 'local', trace: 'deployment d-run (win) is running step 2 of 2' },
  { name: 'never × running (another advertisement) → local', spec: { collections: [lab()], advertisements: [req('win', 'lab'), req('other', 'lab')] }, history: [dep({ advertisementId: 'gone', state: 'running', updatedAt: '2026-06-01T11:59:00.000Z' })], kind: 'local', trace: 'task sequence restarting the machine' },
  { name: 'never × running but silent past the timeout → counts as failed → skip', spec: one({ rerun: 'never' }), history: [dep({ advertisementId: 'win', state: 'running', updatedAt: '2026-06-01T10:00:00.000Z' })], kind: 'local', trace: '(PE stopped reporting) and rerun=never' },
  { name: 'ifFailed × running silent past the timeout → deploy', spec: one({ rerun: 'ifFailed' }), history: [dep({ advertisementId: 'win', state: 'running', updatedAt: '2026-06-01T10:00:00.000Z' })], kind: 'deploy', ad: 'win', trace: 'failed at 2026-06-01T11:00:00.000Z (PE stopped reporting) and rerun=ifFailed' },
  { name: 'booting (PE never checked in, PXE retried) → deploy again', spec: one(), history: [dep({ advertisementId: 'win', state: 'booting', id: 'd-boot', updatedAt: '2026-06-01T11:58:00.000Z' })], kind: 'deploy', ad: 'win', trace: 'deployment d-boot of it never checked in (PXE retried): this boot supersedes it' },
  { name: 'superseded before check-in does not count as an attempt', spec: one({ rerun: 'never' }), history: [dep({ advertisementId: 'win', state: 'failed', currentStep: undefined, error: 'superseded by a new boot' })], kind: 'deploy', ad: 'win', trace: 'never ran on this machine' },
  { name: 'reimageAfter after the success → runs again', spec: one(), machine: machine({ reimageAfter: '2026-05-20T00:00:00.000Z' }), history: [dep({ advertisementId: 'win', state: 'succeeded' })], kind: 'deploy', ad: 'win', trace: 'never ran on this machine' },
  { name: 'reimageAfter before the success → still skipped', spec: one(), machine: machine({ reimageAfter: '2026-04-01T00:00:00.000Z' }), history: [dep({ advertisementId: 'win', state: 'succeeded' })], kind: 'local', trace: 'rerun=never → skip' },
  { name: 'history of another advertisement does not count', spec: one(), history: [dep({ advertisementId: 'old', state: 'succeeded' })], kind: 'deploy', ad: 'win', trace: 'never ran on this machine' },

  // ── menus ──────────────────────────────────────────────────────────────────────────────────────────────
  { name: 'menu ordering: specificity, then id', spec: { collections: [{ id: 'biosen', rules: [{ arch: 'bios' }] }, lab(), { id: 'prefix', rules: [{ macPrefix: '52:54:00' }] }], advertisements: [avail('b-rule', 'biosen'), avail('zz-member', 'lab'), avail('a-rule', 'prefix')] }, kind: 'menu', ad: ['zz-member', 'a-rule', 'b-rule'], trace: '→ menu of 3 available deployment(s)' },
  { name: 'available succeeded with rerun=never → left out of the menu', spec: { collections: [lab()], advertisements: [avail('done', 'lab'), avail('fresh', 'lab')] }, history: [dep({ advertisementId: 'done', state: 'succeeded', purpose: 'available' })], kind: 'menu', ad: ['fresh'], trace: 'advertisement done (available, collection lab): already deployment' },
  { name: 'available failed with rerun=never stays in the menu', spec: { collections: [lab()], advertisements: [avail('tools', 'lab')] }, history: [dep({ advertisementId: 'tools', state: 'failed', purpose: 'available' })], kind: 'menu', ad: ['tools'], trace: 'advertisement tools (available, collection lab) → menu item' },
  { name: 'only available, all done → local', spec: { collections: [lab()], advertisements: [avail('done', 'lab')] }, history: [dep({ advertisementId: 'done', state: 'succeeded', purpose: 'available' })], kind: 'local', trace: 'no advertisement left to run' },
  { name: 'missing task sequence is not offered', spec: one({ taskSequence: 'nope' }), kind: 'local', trace: 'not offered: task sequence nope is not in the config' }
]

t.test('policy table', async t => {
  const b = await baseConfig()
  t.ok(rows.length >= 30, `${rows.length} rows`)
  for (const row of rows) {
    const d = decide({ config: model(b, row.spec), client: row.client ?? bios, machine: row.machine, history: row.history ?? [], now: row.now ?? NOW })
    const text = d.trace.join('\n')
    t.equal(d.kind, row.kind, `${row.name}: kind`)
    if (d.kind === 'deploy') t.equal(d.advertisement.id, row.ad, `${row.name}: advertisement`)
    if (d.kind === 'menu') t.same(d.items.map(i => i.advertisement.id), row.ad, `${row.name}: menu items`)
    if (d.kind === 'local') t.ok(d.reason.length > 0 && d.reason.includes(row.reason ?? ''), `${row.name}: local has the reason`, { reason: d.reason })
    t.ok(text.includes(row.trace), `${row.name}: trace has "${row.trace}"`, { trace: d.trace })
  }
})
