// Structural validation with Ajv (every error at once), then each Ajv error turned into a sentence an
// admin can act on, located on the line that needs the fix. Union noise is collapsed: a step with an
// unknown `type` is one error, not seven branches' worth.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import addFormatsModule from 'ajv-formats'
import { ConfigSchema } from './schema.js'
import { discriminants, literals, type Schema } from './schema-walk.js'
import { dotted, fromPointer, type Path } from './yaml-doc.js'
import { didYouMean } from './suggest.js'

export interface RawIssue {
  path: Path
  /** 'key': report on the line that introduces the path (unknown key, missing key) */
  at: 'value' | 'key'
  message: string
  hint?: string
}

let compiled: ValidateFunction | undefined

function validator (): ValidateFunction {
  if (compiled !== undefined) return compiled
  const ajv = new Ajv({
    allErrors: true,
    useDefaults: true,
    verbose: true,
    strict: true,
    // TypeBox puts `default` on step fields inside the step union, where Ajv does not apply it; we fill
    // those ourselves (fillUnionDefaults), so that one strict-mode complaint is expected and silenced.
    strictSchema: 'log',
    logger: {
      log () {},
      warn (msg: string) { if (!String(msg).includes('default is ignored')) throw new Error(msg) },
      error (msg: string) { throw new Error(msg) }
    }
  })
  const addFormats = ((addFormatsModule as any).default ?? addFormatsModule) as (a: Ajv) => void
  addFormats(ajv)
  compiled = ajv.compile(ConfigSchema)
  return compiled
}

/** Validate `data` in place (defaults are filled) and return its problems, each once. */
export function validateSchema (data: unknown): RawIssue[] {
  const validate = validator()
  if (validate(data)) return []
  return explain(validate.errors ?? [], data)
}

function explain (errors: ErrorObject[], data: unknown): RawIssue[] {
  const dropped = new Set<ErrorObject>()
  const extra: RawIssue[] = []
  // Outer unions first, so a rejected step branch takes its nested unions' errors with it.
  const unions = errors.filter(e => e.keyword === 'anyOf').sort((a, b) => a.schemaPath.length - b.schemaPath.length)
  for (const u of unions) {
    if (dropped.has(u)) continue
    // schema paths repeat for every step: the same instance (or below it) tells which errors are this union's
    const inside = errors.filter(e => e !== u && e.schemaPath.startsWith(u.schemaPath + '/') &&
      (e.instancePath === u.instancePath || e.instancePath.startsWith(u.instancePath + '/')))
    const union = u.parentSchema as Schema
    const names = discriminants(union)
    const path = fromPointer(u.instancePath)
    dropped.add(u)
    if (names !== undefined) {
      const t = valueAt(data, [...path, 'type'])
      const i = names.indexOf(t as string)
      if (i >= 0) {
        const keep = `${u.schemaPath}/${i}/`
        for (const e of inside) if (!e.schemaPath.startsWith(keep)) dropped.add(e)
        continue
      }
      for (const e of inside) dropped.add(e)
      extra.push(unknownBranch(path, t, names, valueAt(data, path)))
      continue
    }
    for (const e of inside) dropped.add(e)
    const lits = literals(union)
    const v = valueAt(data, path)
    if (lits !== undefined) {
      const hint = didYouMean(String(v), lits.map(String))
      extra.push({ path, at: 'value', message: `${dotted(path)}: ${show(v)} is not one of ${lits.join(', ')}`, hint })
    } else {
      extra.push({ path, at: 'value', message: `${dotted(path)}: ${show(v)} does not match any allowed form` })
    }
  }
  const out = errors.filter(e => !dropped.has(e)).map(e => one(e))
  return [...out, ...extra]
}

function unknownBranch (path: Path, t: unknown, names: string[], obj: unknown): RawIssue {
  const what = path.includes('steps') ? 'step type' : 'type'
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    const hint = typeof obj === 'string' && names.includes(obj) ? `write it as a map: "- type: ${obj}"` : undefined
    return { path, at: 'value', message: `${dotted(path)}: expected a ${what === 'step type' ? 'step' : 'map'} with a type (${names.join(', ')}), got ${show(obj)}`, hint }
  }
  if (t === undefined) {
    return { path, at: 'key', message: `${dotted(path)}: missing required key 'type' (expected ${names.join(', ')})` }
  }
  return {
    path: [...path, 'type'],
    at: 'value',
    message: `unknown ${what} ${show(t)} (expected ${names.join(', ')})`,
    hint: didYouMean(String(t), names)
  }
}

function one (e: ErrorObject): RawIssue {
  const path = fromPointer(e.instancePath)
  const where = dotted(path)
  const p = e.params as Record<string, any>
  const ps = e.parentSchema as Schema | undefined
  switch (e.keyword) {
    case 'additionalProperties': {
      const allowed = Object.keys(ps?.properties ?? {})
      const key = String(p.additionalProperty)
      return {
        path: [...path, key],
        at: 'key',
        message: `unknown key '${key}'${path.length > 0 ? ` in ${where}` : ' at the top level'}`,
        hint: didYouMean(key, allowed) ?? `allowed keys: ${allowed.join(', ')}`
      }
    }
    case 'required': {
      const key = String(p.missingProperty)
      const desc = ps?.properties?.[key]?.description
      return { path, at: 'key', message: `${where}: missing required key '${key}'`, hint: desc !== undefined ? `${key}: ${desc}` : undefined }
    }
    case 'type':
      return { path, at: 'value', message: `${where}: expected ${article(String(p.type))}, got ${show(e.data)}` }
    case 'format':
      return { path, at: 'value', ...formatMessage(where, String(p.format), e.data) }
    case 'pattern':
      return {
        path,
        at: 'value',
        message: `${where}: ${show(e.data)} is not a valid id`,
        hint: 'ids are 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit'
      }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return { path, at: 'value', message: `${where}: ${show(e.data)} is out of range (must be ${String(p.comparison)} ${String(p.limit)})` }
    case 'minItems':
      return { path, at: 'key', message: `${where}: needs at least ${String(p.limit)} entr${p.limit === 1 ? 'y' : 'ies'}` }
    case 'minProperties': {
      const keys = Object.keys(ps?.properties ?? {})
      return { path, at: 'value', message: `${where}: empty entry`, hint: `give at least one of ${keys.join(', ')}` }
    }
    default:
      return { path, at: 'value', message: `${where}: ${e.message ?? 'is invalid'}` }
  }
}

function formatMessage (where: string, format: string, v: unknown): { message: string, hint?: string } {
  if (format === 'ipv4') return { message: `${where}: ${show(v)} is not an IPv4 address`, hint: 'dotted quad, e.g. 192.168.1.10' }
  if (format === 'date-time') {
    return { message: `${where}: ${show(v)} is not an ISO 8601 date-time`, hint: 'e.g. 2026-01-31T18:00:00Z or 2026-01-31T18:00:00+01:00 (quote it)' }
  }
  return { message: `${where}: ${show(v)} is not a valid ${format}` }
}

const TYPE_WORDS: Record<string, string> = {
  object: 'a map (key: value lines)', array: 'a list (- item lines, or [a, b])', integer: 'a whole number',
  number: 'a number', string: 'a string', boolean: 'true or false', null: 'nothing'
}

function article (type: string): string {
  return type.split(',').map(t => TYPE_WORDS[t] ?? t).join(' or ')
}

/** A value as it appears in a message: strings quoted, maps and lists named. */
export function show (v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'an empty value'
  if (typeof v === 'string') return `'${v.length > 60 ? v.slice(0, 57) + '...' : v}'`
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a map'
  return `${typeof v} ${String(v)}`
}

export function valueAt (data: unknown, path: Path): unknown {
  let v = data
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string | number, unknown>)[seg]
  }
  return v
}
