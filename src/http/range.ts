// Byte ranges and validators for file downloads (RFC 9110 §14 Range, §13.1 conditional requests). Pure.

export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial', start: number, end: number }   // inclusive end, as in Content-Range
  | { kind: 'unsatisfiable' }

const DIGITS = /^\d{1,15}$/

/**
 * One `Range: bytes=…` header against a representation of `size` bytes.
 * - a syntactically invalid header, another unit, or several ranges → 'full' (RFC 9110 §14.2 lets a server
 *   ignore Range; PE downloaders and curl resume ask for one range, and multipart answers buy nothing here);
 * - `first-last`, `first-` and suffix `-N` (the last N bytes) → 'partial', the last position clipped to size;
 * - a first position at or past the end, or a suffix of zero bytes → 'unsatisfiable' (416, §15.5.17).
 */
export function parseRange (header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' }
  const m = /^\s*bytes\s*=\s*(.*)$/i.exec(header)
  if (m === null) return { kind: 'full' }
  const spec = m[1].trim()
  if (spec.includes(',')) return { kind: 'full' }
  const dash = spec.indexOf('-')
  if (dash < 0) return { kind: 'full' }
  const a = spec.slice(0, dash).trim()
  const b = spec.slice(dash + 1).trim()
  if (a === '') {
    if (!DIGITS.test(b)) return { kind: 'full' }
    const n = Number(b)
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' }
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 }
  }
  if (!DIGITS.test(a) || (b !== '' && !DIGITS.test(b))) return { kind: 'full' }
  const start = Number(a)
  if (b !== '' && Number(b) < start) return { kind: 'full' }   // an invalid range-spec: ignore the header (§14.1.1)
  if (start >= size) return { kind: 'unsatisfiable' }
  return { kind: 'partial', start, end: b === '' ? size - 1 : Math.min(Number(b), size - 1) }
}

/**
 * If-Range (§13.1.5): honour Range only when the client's validator still names this representation.
 * An entity tag must match strongly (a weak tag never does); a date must equal Last-Modified exactly.
 */
export function ifRangeAllows (header: string | undefined, etag: string, lastModified: Date): boolean {
  if (header === undefined) return true
  const v = header.trim()
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag
  const t = Date.parse(v)
  return !Number.isNaN(t) && t === Math.floor(lastModified.getTime() / 1000) * 1000
}

/** If-None-Match (§13.1.2, weak comparison): true when the client's copy is current (answer 304). */
export function notModified (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  const bare = (t: string) => t.trim().replace(/^W\//, '')
  return ifNoneMatch.split(',').some(t => t.trim() === '*' || bare(t) === bare(etag))
}
