// Walking the JSON Schema alongside the data: which sub-schema describes a given key, which branch of a
// discriminated union (a step's `type`) applies. Used to prepare the data before Ajv and to explain its errors.
import { isMap, isScalar, isSeq, type Document, type Node } from 'yaml'

export type Schema = Record<string, any>

/** Branch names of a union whose members are objects told apart by a literal `type` (the step union). */
export function discriminants (s: Schema): string[] | undefined {
  if (!Array.isArray(s.anyOf)) return undefined
  const names: string[] = []
  for (const b of s.anyOf as Schema[]) {
    const c = b?.properties?.type?.const
    if (typeof c !== 'string') return undefined
    names.push(c)
  }
  return names
}

/** The values of a union of literals (dhcp.mode, step.scheme, rule.arch …), or undefined. */
export function literals (s: Schema): unknown[] | undefined {
  if (!Array.isArray(s.anyOf)) return undefined
  const vals: unknown[] = []
  for (const b of s.anyOf as Schema[]) {
    if (b === null || typeof b !== 'object' || !('const' in b)) return undefined
    vals.push(b.const)
  }
  return vals
}

/** The branch of a discriminated union that applies to `value`, or undefined if `value` names no branch. */
export function branchFor (s: Schema, value: unknown): Schema | undefined {
  const names = discriminants(s)
  if (names === undefined) return undefined
  const t = value !== null && typeof value === 'object' ? (value as Record<string, unknown>).type : undefined
  const i = names.indexOf(t as string)
  return i >= 0 ? s.anyOf[i] : undefined
}

/** Sub-schema of `s` for `key` of `value` (resolving a discriminated union first). */
export function subSchema (s: Schema | undefined, key: string | number, value: unknown): Schema | undefined {
  if (s === undefined) return undefined
  const b = branchFor(s, value)
  if (b !== undefined) s = b
  if (typeof key === 'number') return s.type === 'array' ? s.items : undefined
  if (s.type !== 'object') return undefined
  if (s.properties?.[key] !== undefined) return s.properties[key]
  const pp = s.patternProperties
  if (pp !== undefined) return Object.values(pp)[0] as Schema
  return undefined
}

/**
 * A string-typed setting written as a bare number (`serial: 00123`, `mac: 001122334455`, `pxePassword: 1234`)
 * is read as the text the admin typed, leading zeros included, instead of failing "must be string".
 * Works on the YAML tree because the number's original spelling is only there.
 */
export function numbersToText (doc: Document, schema: Schema): void {
  const walk = (node: Node | null | undefined, s: Schema | undefined): void => {
    if (node === null || node === undefined || s === undefined) return
    if (isMap(node)) {
      const js = plainObject(node)
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined
        if (key === undefined) continue
        const sub = subSchema(s, key, js)
        const v = pair.value as Node | null
        if (isScalar(v) && typeof v.value === 'number' && sub?.type === 'string' && v.source !== undefined) {
          v.value = v.source
        } else {
          walk(v, sub)
        }
      }
    } else if (isSeq(node)) {
      node.items.forEach((item) => {
        const sub = s.type === 'array' ? s.items : undefined
        if (isScalar(item) && typeof item.value === 'number' && sub?.type === 'string' && item.source !== undefined) {
          item.value = item.source
        } else {
          walk(item as Node, sub)
        }
      })
    }
  }
  walk(doc.contents as Node | null, schema)
}

function plainObject (map: Node): Record<string, unknown> {
  const o: Record<string, unknown> = {}
  if (!isMap(map)) return o
  for (const pair of map.items) {
    if (isScalar(pair.key) && isScalar(pair.value)) o[String(pair.key.value)] = pair.value.value
  }
  return o
}

/**
 * Before Ajv, throughout the data: a key left empty (null) that has a default is dropped so the default
 * applies; and because Ajv fills `default`s only outside anyOf (a step's `index: 1` or `scheme: auto` would
 * be reported missing), step defaults are filled here from the branch the step's `type` selects.
 */
export function fillUnionDefaults (value: unknown, s: Schema | undefined): void {
  if (s === undefined || value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    if (s.type === 'array') for (const v of value) fillUnionDefaults(v, s.items)
    return
  }
  const obj = value as Record<string, unknown>
  const b = branchFor(s, obj)
  const target = b ?? s
  if (b !== undefined) {
    for (const [k, ps] of Object.entries<Schema>(b.properties ?? {})) {
      if (obj[k] === undefined && ps.default !== undefined) obj[k] = structuredClone(ps.default)
    }
  }
  for (const [k, v] of Object.entries(obj)) {
    const sub = subSchema(target, k, obj)
    // `http:` with every child commented out is null in YAML: treat it as absent, so its default applies
    if (v === null && sub?.default !== undefined) { delete obj[k]; continue }
    fillUnionDefaults(v, sub)
  }
}
