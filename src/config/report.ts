// What semantic checks receive: the validated (possibly still partly invalid) data, and a reporter that
// locates each problem in the file. Checks never throw on odd data: a wrong type was already reported by
// the schema pass, so they skip what they cannot read.
import type { Path } from './yaml-doc.js'

export interface Reporter {
  error (path: Path, message: string, hint?: string, at?: 'value' | 'key'): void
  warn (path: Path, message: string, hint?: string, at?: 'value' | 'key'): void
  /** 1-based line of a path, for hints like "first defined at line 12" */
  lineOf (path: Path, at?: 'value' | 'key'): number
}

export type Obj = Record<string, unknown>

export function isObj (v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** The entries of a list setting that are maps, with their index; anything else is skipped. */
export function entries (v: unknown): Array<[number, Obj]> {
  if (!Array.isArray(v)) return []
  const out: Array<[number, Obj]> = []
  v.forEach((e, i) => { if (isObj(e)) out.push([i, e]) })
  return out
}

export function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

export function section (data: Obj, key: string): Obj {
  const v = data[key]
  return isObj(v) ? v : {}
}
