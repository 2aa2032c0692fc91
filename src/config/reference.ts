// The README's "Config reference", generated from the TypeBox schema so the two cannot drift apart
// (test/config/readme-sync.test.ts). Pure: schema in, Markdown out.
import { ConfigSchema, StepSchema } from './schema.js'
import { literals, type Schema } from './schema-walk.js'

export const START_MARKER = '<!-- config-reference:start -->'
export const END_MARKER = '<!-- config-reference:end -->'

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

function typeOf (s: Schema): string {
  const lits = literals(s)
  if (lits !== undefined) return lits.map(v => `\`${String(v)}\``).join(' \\| ')
  switch (s.type) {
    case 'string':
      if (s.pattern !== undefined) return 'id'
      return s.format !== undefined ? `string (${String(s.format)})` : 'string'
    case 'integer': case 'number': {
      const range = s.minimum !== undefined && s.maximum !== undefined
        ? ` ${String(s.minimum)}–${String(s.maximum)}`
        : s.minimum !== undefined ? ` ≥ ${String(s.minimum)}` : ''
      return `${String(s.type)}${range}`
    }
    case 'boolean': return 'boolean'
    case 'array': {
      const item = s.items as Schema
      if (item.type === 'object' || item.anyOf !== undefined) return 'list of maps'
      return `list of ${typeOf(item)}`
    }
    case 'object':
      return s.patternProperties !== undefined ? 'map of string → string' : 'map'
    default: return 'value'
  }
}

function defaultOf (s: Schema, required: boolean): string {
  if (s.default !== undefined) {
    const d = s.default
    if (typeof d === 'object' && d !== null && Object.keys(d).length === 0) {
      if (Array.isArray(d)) return '`[]`'
      return s.patternProperties !== undefined ? '`{}`' : '—'
    }
    return `\`${typeof d === 'string' ? JSON.stringify(d) : String(d)}\``
  }
  return required ? '**required**' : '—'
}

/** One table row per key; nested maps (dhcp.full) are flattened into dotted keys. */
function rows (s: Schema, prefix = ''): string[] {
  const out: string[] = []
  const req = new Set<string>(s.required ?? [])
  for (const [k, ps] of Object.entries<Schema>(s.properties ?? {})) {
    const key = prefix + k
    const nested = ps.type === 'object' && ps.properties !== undefined
    let desc = String(ps.description ?? '')
    if (ps.minItems !== undefined) desc = `${desc}${desc === '' ? '' : '; '}at least ${String(ps.minItems)}`
    if (ps.minProperties !== undefined) desc = `${desc}${desc === '' ? '' : '; '}give at least one key`
    out.push(`| \`${key}\` | ${typeOf(ps)} | ${defaultOf(ps, req.has(k) && ps.default === undefined)} | ${cell(desc)} |`)
    if (nested) out.push(...rows(ps, `${key}.`))
  }
  return out
}

function table (s: Schema): string[] {
  return ['| key | type | default | description |', '| --- | --- | --- | --- |', ...rows(s)]
}

function itemSchema (s: Schema): Schema {
  return s.type === 'array' ? s.items as Schema : s
}

export function renderConfigReference (): string {
  const top = ConfigSchema as unknown as Schema
  const lines: string[] = [
    '_Generated from `src/config/schema.ts` by `npx tsx scripts/config-reference.ts --write`; do not edit by hand._',
    '',
    'The config is one YAML file (default: the embedded `config/appliance.yaml`; `netboot serve --config FILE`).',
    'Every key is optional unless marked **required**; a missing key takes its default. Unknown keys are errors.',
    'Relative paths are resolved against the working directory the appliance is started from.',
    'MAC addresses may be written `aa:bb:cc:dd:ee:ff`, `AA-BB-CC-DD-EE-FF`, `aabb.ccdd.eeff` or `aabbccddeeff`, and',
    'SMBIOS UUIDs with or without dashes or braces, in any case; they are normalized to lowercase',
    '`aa:bb:cc:dd:ee:ff` and 8-4-4-4-12. A running appliance reloads the file within 2 s of an edit; an invalid',
    'edit is reported (log, `netboot check-config`, admin API) and the last good config keeps serving.',
    ''
  ]
  for (const [k, ps] of Object.entries<Schema>(top.properties ?? {})) {
    const item = itemSchema(ps)
    lines.push(`### \`${k}\``, '')
    if (ps.description !== undefined) lines.push(`${String(ps.description)}.`, '')
    if (ps.type === 'array') lines.push(`A list; each entry is a map:`, '')
    if (item.type === 'object') lines.push(...table(item), '')
    // lists of maps inside entries (collections' members and rules); steps have their own section below
    for (const [sk, ss] of Object.entries<Schema>(item.properties ?? {})) {
      if (sk === 'steps' || ss.type !== 'array' || (ss.items as Schema).type !== 'object') continue
      lines.push(`#### \`${k}[].${sk}[]\``, '', ...table(ss.items as Schema), '')
    }
  }
  lines.push('### Task sequence steps', '',
    'Each entry of a task sequence\'s `steps` is a map whose `type` selects one of these step types.',
    'Every step also accepts `name` and `continueOnError`.', '')
  for (const b of (StepSchema as unknown as Schema).anyOf as Schema[]) {
    const type = String(b.properties.type.const)
    const fields: Schema = { ...b, properties: { ...b.properties }, required: (b.required ?? []).filter((r: string) => r !== 'type') }
    delete fields.properties.type
    delete fields.properties.name
    delete fields.properties.continueOnError
    lines.push(`#### \`type: ${type}\``, '')
    if (Object.keys(fields.properties).length === 0) lines.push('No other fields.', '')
    else lines.push(...table(fields), '')
  }
  return lines.join('\n').trimEnd() + '\n'
}

/** README text with the generated section between the markers replaced by `section`. */
export function replaceSection (readme: string, section: string): string {
  const a = readme.indexOf(START_MARKER)
  const b = readme.indexOf(END_MARKER)
  if (a < 0 || b < a) throw new Error(`README has no ${START_MARKER} … ${END_MARKER} section`)
  return readme.slice(0, a + START_MARKER.length) + '\n' + section + readme.slice(b)
}

/** The text currently between the markers (as replaceSection writes it), or undefined. */
export function currentSection (readme: string): string | undefined {
  const a = readme.indexOf(START_MARKER)
  const b = readme.indexOf(END_MARKER)
  if (a < 0 || b < a) return undefined
  return readme.slice(a + START_MARKER.length + 1, b)
}
