// Collection membership, pure. A machine is in a collection when one member entry matches (every field the entry
// gives: mac, uuid, serial) or one rule matches (every field the rule gives: arch, macPrefix, manufacturer,
// product). `unknown: true` is ConfigMgr's "All Unknown Computers": machines that no collection names by member
// or by a rule without `unknown`.
import type { AppConfig, Collection, MachineRef, Rule } from '../config/schema.js'
import type { Machine } from '../store/types.js'
import type { ClientIdentity } from './types.js'

/** What the policy knows of a machine: the client's own report, completed by its inventory record. */
export interface Identity {
  mac: string
  arch?: string
  uuid?: string
  serial?: string
  manufacturer?: string
  product?: string
}

export type MatchKind = 'member' | 'rule' | 'unknown'

export interface CollectionMatch {
  collection: Collection
  kind: MatchKind
  /** Higher is more specific: member 100 > rule 10+fields > unknown 0+fields (poseidon/matchbox style). */
  specificity: number
  /** For people: "member mac 52:54:00:12:34:56", "rule arch=bios macPrefix=52:54:00", … */
  why: string
}

/** The client's fields win; the inventory fills what this protocol could not see (DHCP has no serial). */
export function identityOf (client: ClientIdentity, machine?: Machine): Identity {
  return {
    mac: client.mac,
    arch: client.arch ?? machine?.arch,
    uuid: client.uuid ?? machine?.uuid,
    serial: client.serial ?? machine?.serial,
    manufacturer: client.manufacturer ?? machine?.manufacturer,
    product: client.product ?? machine?.product
  }
}

const fold = (s: string | undefined): string | undefined => s?.trim().toLowerCase()
const hexOnly = (s: string): string => s.toLowerCase().replace(/[^0-9a-f]/g, '')

/**
 * True when every identifier the entry gives equals the machine's. MACs and UUIDs are normalized by the config
 * loader and the protocols; the comparison still folds case so a hand-built entry cannot miss by spelling.
 * An entry that names no identifier (only `name`) matches nothing.
 */
export function refMatches (ref: MachineRef, id: Identity): boolean {
  const fields = (['mac', 'uuid', 'serial'] as const).filter(f => ref[f] !== undefined)
  if (fields.length === 0) return false
  return fields.every(f => id[f] !== undefined && fold(ref[f]) === fold(id[f]))
}

function refWhy (ref: MachineRef): string {
  const parts = (['mac', 'uuid', 'serial'] as const).filter(f => ref[f] !== undefined).map(f => `${f} ${String(ref[f])}`)
  return `member ${parts.join(', ')}${ref.name !== undefined ? ` (${ref.name})` : ''}`
}

/** The conditions a rule sets besides `unknown`, in a fixed order. */
function ruleConditions (rule: Rule): Array<[string, string]> {
  const out: Array<[string, string]> = []
  if (rule.arch !== undefined) out.push(['arch', rule.arch])
  if (rule.macPrefix !== undefined) out.push(['macPrefix', rule.macPrefix])
  if (rule.manufacturer !== undefined) out.push(['manufacturer', rule.manufacturer])
  if (rule.product !== undefined) out.push(['product', rule.product])
  return out
}

function conditionHolds (field: string, want: string, id: Identity): boolean {
  switch (field) {
    case 'arch': return id.arch === want
    case 'macPrefix': return hexOnly(id.mac).startsWith(hexOnly(want)) && hexOnly(want) !== ''
    case 'manufacturer': return id.manufacturer !== undefined && fold(id.manufacturer) === fold(want)
    case 'product': return id.product !== undefined && fold(id.product) === fold(want)
    default: return false
  }
}

/** Whether the rule's own conditions (not `unknown`) hold. A rule with no conditions besides `unknown` holds. */
function ruleFieldsHold (rule: Rule, id: Identity): boolean {
  return ruleConditions(rule).every(([f, v]) => conditionHolds(f, v, id))
}

const isUnknownRule = (r: Rule): boolean => r.unknown === true

/** Best match of one collection by members and non-unknown rules only (what makes a machine "known"). */
function knownMatch (c: Collection, id: Identity): CollectionMatch | undefined {
  const member = c.members.find(m => refMatches(m, id))
  if (member !== undefined) return { collection: c, kind: 'member', specificity: 100, why: refWhy(member) }
  let best: CollectionMatch | undefined
  for (const rule of c.rules) {
    const conds = ruleConditions(rule)
    // A rule with no condition at all (e.g. `{ unknown: false }`) would match every machine: it matches none.
    if (isUnknownRule(rule) || conds.length === 0 || !ruleFieldsHold(rule, id)) continue
    const spec = 10 + conds.length
    if (best === undefined || spec > best.specificity) {
      best = { collection: c, kind: 'rule', specificity: spec, why: `rule ${conds.map(([f, v]) => `${f}=${v}`).join(' ')}` }
    }
  }
  return best
}

function unknownMatch (c: Collection, id: Identity): CollectionMatch | undefined {
  let best: CollectionMatch | undefined
  for (const rule of c.rules) {
    if (!isUnknownRule(rule) || !ruleFieldsHold(rule, id)) continue
    const conds = ruleConditions(rule)
    if (best === undefined || conds.length > best.specificity) {
      const extra = conds.map(([f, v]) => ` ${f}=${v}`).join('')
      best = { collection: c, kind: 'unknown', specificity: conds.length, why: `rule unknown${extra} (in no other collection)` }
    }
  }
  return best
}

/** Collections naming this machine by member or non-unknown rule, in config order. */
export function knownCollections (config: Pick<AppConfig, 'collections'>, id: Identity): CollectionMatch[] {
  return config.collections.map(c => knownMatch(c, id)).filter((m): m is CollectionMatch => m !== undefined)
}

/** Every collection the machine is in, with how; unknown rules apply only when no collection knows it. */
export function matchCollections (config: Pick<AppConfig, 'collections'>, id: Identity): CollectionMatch[] {
  const known = knownCollections(config, id)
  if (known.length > 0) return known
  return config.collections.map(c => unknownMatch(c, id)).filter((m): m is CollectionMatch => m !== undefined)
}

/** The config entry that protects this machine (site servers), if any. */
export function protectedBy (config: Pick<AppConfig, 'protected'>, id: Identity): MachineRef | undefined {
  return config.protected.find(ref => refMatches(ref, id))
}

export { refWhy as describeRef }
