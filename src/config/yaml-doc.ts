// The YAML side of the loader: parse keeping positions, and map a JSON path back to a line and column
// so that every problem points at the text the admin wrote.
import { LineCounter, parseDocument, visit, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml'
import type { ConfigIssue } from './issues.js'

export type PathSeg = string | number
export type Path = readonly PathSeg[]

export interface ParsedYaml {
  doc: Document
  lines: LineCounter
  errors: ConfigIssue[]
  warnings: ConfigIssue[]
}

export function parseYaml (text: string, file: string): ParsedYaml {
  const lines = new LineCounter()
  // YAML 1.2 core schema (the default): no sexagesimal numbers, so a MAC like 52:54:00:12:34:56 stays a string;
  // uniqueKeys (default) makes a key written twice in one map an error, as an admin would want.
  // merge: `<<: *defaults` works as admins expect from YAML 1.1 tools (reuse a list of steps, a rule).
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true })
  const toIssue = (e: { message: string, pos: [number, number], code: string }): ConfigIssue => {
    const pos = lines.linePos(e.pos[0])
    return { file, line: pos.line, column: pos.col, path: '', message: `YAML: ${firstLine(e.message)}`, hint: yamlHint(e.code) }
  }
  return {
    doc,
    lines,
    errors: doc.errors.map(toIssue),
    warnings: doc.warnings.map(toIssue)
  }
}

function firstLine (msg: string): string {
  // yaml appends " at line N, column M" and a source excerpt; we print the position ourselves
  return msg.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')
}

function yamlHint (code: string): string | undefined {
  switch (code) {
    case 'DUPLICATE_KEY': return 'a key may appear only once in a map; merge the two entries'
    case 'TAB_AS_INDENT': return 'indent with spaces, never tabs'
    case 'BAD_INDENT': case 'MISSING_CHAR': return 'check the indentation and that every "key: value" has a space after the colon'
    case 'BLOCK_AS_IMPLICIT_KEY': case 'MULTILINE_IMPLICIT_KEY': return 'a value is probably missing its "key:" or is indented too far'
    default: return 'check the quoting and indentation around this position'
  }
}

/**
 * The document as plain data. An alias to an anchor that is not defined (yet), or alias expansion beyond
 * yaml's limit (a "billion laughs" file), is a syntax problem located at the first offending alias.
 */
export function toData (p: ParsedYaml, file: string): { data: unknown } | { issue: ConfigIssue } {
  try {
    return { data: p.doc.toJS({ maxAliasCount: 1000 }) }
  } catch (err) {
    let first: Node | undefined
    let unresolved: Node | undefined
    visit(p.doc, {
      Alias: (_key, node) => {
        first ??= node
        if (node.resolve(p.doc) !== undefined) return undefined
        unresolved = node
        return visit.BREAK
      }
    })
    const at = unresolved ?? first
    const { line, column } = pos(p, at ?? null)
    return { issue: { file, line, column, path: '', message: `YAML: ${firstLine((err as Error).message)}`, hint: 'define each &anchor before its *alias, and do not nest aliases to blow up the document' } }
  }
}

export interface Located { line: number, column: number }

/**
 * Where `path` is in the document. mode 'value': the node itself; 'key': the line that introduces it (its key
 * in the parent map, or the `- ` of a sequence item). A path that is not in the text (a default the loader
 * filled in) falls back to the deepest ancestor that is, by its key.
 */
export function locate (p: ParsedYaml, path: Path, mode: 'value' | 'key' = 'value'): Located {
  let node: Node | null = p.doc.contents as Node | null
  let keyNode: Node | null = null
  let parentNode: Node | null = null
  for (let i = 0; i < path.length; i++) {
    const seg = path[i]
    const next = child(p.doc, node, seg)
    if (next === undefined) return pos(p, keyNode ?? node ?? parentNode)
    parentNode = node
    node = next.value
    keyNode = next.key ?? next.value
  }
  if (mode === 'key') return pos(p, keyNode ?? node)
  return pos(p, node ?? keyNode ?? parentNode)
}

function child (doc: Document, node: Node | null, seg: PathSeg): { key: Node | null, value: Node | null } | undefined {
  if (node !== null && isAlias(node)) node = node.resolve(doc) as Node ?? null
  if (node === null) return undefined
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key
      if (String(k) === String(seg)) return { key: pair.key as Node, value: (pair.value ?? null) as Node | null }
    }
    return undefined
  }
  if (isSeq(node) && typeof seg === 'number') {
    const item = node.items[seg]
    if (item === undefined) return undefined
    return { key: null, value: isPair(item) ? item.key as Node : item as Node }
  }
  return undefined
}

function pos (p: ParsedYaml, node: Node | null): Located {
  const offset = node?.range?.[0]
  if (offset === undefined) return { line: 1, column: 1 }
  const lp = p.lines.linePos(offset)
  return { line: lp.line, column: lp.col }
}

/** JSON-pointer spelling used in ConfigIssue.path: /advertisements/2/collection */
export function pointer (path: Path): string {
  return path.map(s => '/' + String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('')
}

export function fromPointer (ptr: string): PathSeg[] {
  if (ptr === '') return []
  return ptr.slice(1).split('/').map(s => {
    const u = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^(0|[1-9][0-9]*)$/.test(u) ? Number(u) : u
  })
}

/** Human spelling for messages: taskSequences[0].steps[2].image */
export function dotted (path: Path): string {
  let s = ''
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : (s === '' ? seg : `.${seg}`)
  return s === '' ? '(top level)' : s
}
