// Machine identities in collections and `protected`: well-formed, not listed twice, and no protected site
// server reachable by a required advertisement (ConfigMgr's classic "OSD wiped the site server" accident).
import { entries, str, type Obj, type Reporter } from './report.js'
import { isPlaceholderMac, isPlaceholderSerial, isPlaceholderUuid, normalizeMac, normalizeMacPrefix, normalizeUuid } from './ids.js'
import { idsOf } from './check-refs.js'

type Path = Array<string | number>

interface Ident { mac?: string, uuid?: string, serial?: string, path: Path }

/** Check one machine list (a collection's members, or protected); returns the well-formed identities. */
function checkList (list: unknown, base: Path, where: string, r: Reporter): Ident[] {
  const seen = { mac: new Map<string, Path>(), uuid: new Map<string, Path>(), serial: new Map<string, Path>() }
  const out: Ident[] = []
  for (const [i, m] of entries(list)) {
    const path = [...base, i]
    const id: Ident = { path }
    const mac = str(m.mac)
    const uuid = str(m.uuid)
    const serial = str(m.serial)
    if (mac === undefined && uuid === undefined && serial === undefined && Object.keys(m).length > 0) {
      r.error(path, `entry in ${where} has no mac, uuid or serial: it matches no machine`, 'a name is only a label; add the machine\'s mac, uuid or serial', 'key')
    }
    if (mac !== undefined) {
      const n = normalizeMac(mac)
      if (n === undefined) r.error([...path, 'mac'], `'${mac}' is not a MAC address`, 'six octets, e.g. 52:54:00:12:34:56, 52-54-00-12-34-56, 5254.0012.3456 or 525400123456')
      else if (isPlaceholderMac(n)) r.error([...path, 'mac'], `${n} is not a NIC address (all-zero, broadcast or multicast)`)
      else id.mac = n
    }
    if (uuid !== undefined) {
      const n = normalizeUuid(uuid)
      if (n === undefined) r.error([...path, 'uuid'], `'${uuid}' is not an SMBIOS UUID`, '32 hex digits, e.g. 4c4c4544-0042-3510-8052-b4c04f4a4e31 (dashes and braces optional)')
      else if (isPlaceholderUuid(n)) r.error([...path, 'uuid'], `${n} is a placeholder UUID that many machines report`, 'identify this machine by mac or serial instead')
      else id.uuid = n
    }
    if (serial !== undefined) {
      if (isPlaceholderSerial(serial)) r.warn([...path, 'serial'], `serial '${serial}' is a vendor placeholder that many machines report`, 'identify this machine by mac or uuid instead')
      else if (serial.trim() !== '') id.serial = serial.trim()
    }
    let duplicate = false
    for (const k of ['mac', 'uuid', 'serial'] as const) {
      const v = id[k]
      if (v === undefined) continue
      const first = seen[k].get(v)
      if (first !== undefined) {
        r.error([...path, k], `${k} ${v} is listed twice in ${where}`, `first at line ${r.lineOf(first)}`)
        duplicate = true
      } else seen[k].set(v, [...path, k])
    }
    if (!duplicate) out.push(id)          // a repeat is reported once, not again by the checks below
  }
  return out
}

export function checkMachines (data: Obj, r: Reporter): void {
  const protectedIds = checkList(data.protected, ['protected'], 'protected', r)
  const members = new Map<string, Ident[]>()
  for (const [ci, c] of entries(data.collections)) {
    const id = str(c.id) ?? String(ci)
    members.set(id, checkList(c.members, ['collections', ci, 'members'], `collection '${id}'`, r))
    for (const [ri, rule] of entries(c.rules)) {
      const p = str(rule.macPrefix)
      if (p !== undefined && normalizeMacPrefix(p) === undefined) {
        r.error(['collections', ci, 'rules', ri, 'macPrefix'], `'${p}' is not a MAC prefix`, 'one to six whole octets, e.g. 52:54:00')
      }
      if (Object.keys(rule).every(k => k === 'unknown') && rule.unknown !== true) {
        r.warn(['collections', ci, 'rules', ri], `rule in collection '${id}' sets no condition: it matches no machine`,
          'give unknown: true, arch, macPrefix, manufacturer or product', 'key')
      }
    }
  }
  checkProtectedInRequired(data, r, protectedIds, members)
}

/**
 * Whether one machine can match both entries. An entry matches a machine when every identifier it gives is the
 * machine's (src/policy/match.ts): so two entries can meet when they share an identifier and none differs.
 */
function sameMachine (a: Ident, b: Ident): string | undefined {
  let shared: string | undefined
  for (const k of ['mac', 'uuid', 'serial'] as const) {
    const x = a[k]
    const y = b[k]
    if (x === undefined || y === undefined) continue
    if (x !== y) return undefined
    shared ??= k === 'serial' ? `serial ${x}` : x
  }
  return shared
}

function checkProtectedInRequired (data: Obj, r: Reporter, prot: Ident[], members: Map<string, Ident[]>): void {
  if (prot.length === 0) return
  const collections = idsOf(data, 'collections')
  const colList = entries(data.collections)
  for (const [, ad] of entries(data.advertisements)) {
    const col = str(ad.collection)
    if (ad.purpose !== 'required' || col === undefined || !collections.has(col)) continue
    const adName = `required advertisement '${str(ad.id) ?? '?'}'`
    for (const m of members.get(col) ?? []) {
      for (const p of prot) {
        const which = sameMachine(m, p)
        if (which === undefined) continue
        r.error(m.path, `protected machine ${which} is a member of collection '${col}', which ${adName} targets`,
          `protected at line ${r.lineOf(p.path)}: remove it from the collection or make the advertisement available`, 'key')
      }
    }
    const ci = collections.get(col) as number
    const rules = entries(colList.find(([i]) => i === ci)?.[1].rules)
    for (const [ri, rule] of rules) {
      const prefix = normalizeMacPrefix(str(rule.macPrefix) ?? '')
      if (prefix === undefined) continue
      const narrowed = Object.keys(rule).some(k => k !== 'macPrefix' && rule[k] !== undefined)
      for (const p of prot) {
        if (p.mac === undefined || !p.mac.startsWith(prefix)) continue
        const path = ['collections', ci, 'rules', ri, 'macPrefix']
        const msg = `protected machine ${p.mac} matches rule macPrefix ${prefix} of collection '${col}', which ${adName} targets`
        const hint = `protected at line ${r.lineOf(p.path)}: narrow the rule or make the advertisement available`
        // A rule that also tests arch/manufacturer/product may exclude the server: we cannot know here.
        if (narrowed) r.warn(path, `${msg} (unless its other conditions exclude it)`, hint)
        else r.error(path, msg, hint)
      }
    }
  }
}
