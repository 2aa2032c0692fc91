// explain(): what `whatif` shows (matched collections with why, a verdict for every advertisement), the menu
// choice, and properties: the decision is deterministic and independent of the order of the config's lists.
import t from 'tap'
import fc from 'fast-check'
import { chooseFromMenu, decide, explain, isKnown } from '../../src/policy/decide.js'
import type { ClientIdentity } from '../../src/policy/types.js'
import { baseConfig, dep, MAC, machine, model, type ModelSpec } from './helpers.js'

const NOW = new Date('2026-06-01T12:00:00.000Z')
const client: ClientIdentity = { mac: MAC, arch: 'bios' }

const spec: ModelSpec = {
  collections: [
    { id: 'lab', name: 'Lab PCs', members: [{ mac: MAC }] },
    { id: 'biosen', rules: [{ arch: 'bios' }] },
    { id: 'efi', rules: [{ arch: 'efi-x64' }] },
    { id: 'unknown', rules: [{ unknown: true }] }
  ],
  advertisements: [
    { id: 'win11', collection: 'lab', purpose: 'required' },
    { id: 'legacy', collection: 'biosen', purpose: 'required' },
    { id: 'tools', collection: 'lab', purpose: 'available' },
    { id: 'efi-only', collection: 'efi', purpose: 'required' },
    { id: 'later', collection: 'lab', purpose: 'required', start: '2027-01-01T00:00:00Z' },
    { id: 'bare', collection: 'unknown', purpose: 'required' }
  ]
}

t.test('explain lists collections with why and a verdict per advertisement', async t => {
  const config = model(await baseConfig(), spec)
  const e = explain({ config, client, history: [], now: NOW })
  t.equal(e.decision.kind, 'deploy')
  t.same(e.collections.map(c => [c.id, c.kind, c.why]), [
    ['lab', 'member', `member mac ${MAC}`],
    ['biosen', 'rule', 'rule arch=bios']
  ])
  t.equal(e.collections[0]?.name, 'Lab PCs')
  const verdict = Object.fromEntries(e.advertisements.map(a => [a.id, a.verdict]))
  t.same(verdict, { bare: 'not-member', 'efi-only': 'not-member', later: 'not-started', legacy: 'shadowed', tools: 'shadowed', win11: 'deploy' })
  t.same(e.advertisements.map(a => a.id), ['bare', 'efi-only', 'later', 'legacy', 'tools', 'win11'], 'sorted by id')
  t.match(e.advertisements.find(a => a.id === 'win11')?.why, /most specific required advertisement \(member, specificity 100\)/)
  t.same(JSON.parse(JSON.stringify(e)).decision.kind, 'deploy', 'serializes as JSON for the admin API')
})

t.test('explain after the required one ran: skipped, legacy next', async t => {
  const config = model(await baseConfig(), spec)
  const history = [dep({ advertisementId: 'win11', state: 'succeeded' })]
  const e = explain({ config, client, history, now: NOW })
  t.equal(e.decision.kind, 'deploy')
  t.equal(e.decision.kind === 'deploy' && e.decision.advertisement.id, 'legacy', 'the shadowed one is next in line')
  t.equal(e.advertisements.find(a => a.id === 'win11')?.verdict, 'skipped')
})

t.test('explain when a protected machine meets required advertisements', async t => {
  const config = model(await baseConfig(), spec)
  const e = explain({ config, client, machine: machine({ protected: true }), history: [], now: NOW })
  t.equal(e.decision.kind, 'menu')
  t.equal(e.advertisements.find(a => a.id === 'win11')?.verdict, 'protected')
  t.equal(e.advertisements.find(a => a.id === 'legacy')?.verdict, 'protected')
  t.equal(e.advertisements.find(a => a.id === 'tools')?.verdict, 'menu')
})

t.test('chooseFromMenu deploys only what the menu offers now', async t => {
  const config = model(await baseConfig(), { collections: spec.collections, advertisements: [{ id: 'tools', collection: 'lab', purpose: 'available' }, { id: 'efi-tools', collection: 'efi', purpose: 'available' }] })
  const input = { config, client, history: [], now: NOW }
  const ok = chooseFromMenu(input, 'tools')
  t.equal(ok.kind, 'deploy')
  t.equal(ok.kind === 'deploy' && ok.advertisement.id, 'tools')
  t.match(ok.trace.at(-1), 'chosen from the menu: tools')
  const forged = chooseFromMenu(input, 'efi-tools')
  t.equal(forged.kind, 'local', 'an advertisement of another collection')
  t.match(forged.kind === 'local' && forged.reason, 'not offered to this machine now')
  t.equal(chooseFromMenu(input, 'nope').kind, 'local')
})

t.test('isKnown: member or rule, or inventory; unknown rules do not count', async t => {
  const config = model(await baseConfig(), spec)
  t.equal(isKnown(config, client), true, 'member')
  t.equal(isKnown(config, { mac: '00:11:22:33:44:55', arch: 'bios' }), true, 'bios rule')
  t.equal(isKnown(config, { mac: '00:11:22:33:44:55', arch: 'efi-arm64' }), false, 'only the unknown rule matches')
  t.equal(isKnown(config, { mac: '00:11:22:33:44:55', arch: 'efi-arm64' }, machine({ mac: '00:11:22:33:44:55' })), true, 'inventory')
})

t.test('property: same decision whatever the order of collections and advertisements', async t => {
  const b = await baseConfig()
  const cols = spec.collections ?? []
  const ads = spec.advertisements ?? []
  const arches = ['bios', 'efi-x64', 'efi-arm64'] as const
  fc.assert(fc.property(
    fc.shuffledSubarray(cols, { minLength: cols.length }),
    fc.shuffledSubarray(ads, { minLength: 0 }),
    fc.constantFrom(...arches),
    fc.boolean(),
    (cs, as, arch, known) => {
      const c: ClientIdentity = { mac: known ? MAC : '02:00:00:00:00:09', arch }
      const a = decide({ config: model(b, { collections: cs, advertisements: as }), client: c, history: [], now: NOW })
      const sorted = [...as].sort((x, y) => (x.id < y.id ? -1 : 1))
      const z = decide({ config: model(b, { collections: [...cs].reverse(), advertisements: sorted }), client: c, history: [], now: NOW })
      const key = (d: typeof a): string => d.kind === 'deploy' ? `deploy ${d.advertisement.id}` : d.kind === 'menu' ? `menu ${d.items.map(i => i.advertisement.id).join(',')}` : 'local'
      return key(a) === key(z)
    }
  ), { numRuns: 300, seed: 5 })
  t.pass('300 shuffles agree')
})
