// Content-Range of a resumable upload (RFC 9110 §14.4): `bytes START-END/TOTAL`, `bytes START-END/*` while the
// total is not known yet (a WIM streamed as it is captured), and `bytes */TOTAL` (no bytes: a probe). Pure.
import { ImageError } from './errors.js'

export interface UploadRange {
  /** first byte offset of this request's body; undefined for a `*` probe */
  start?: number
  /** last byte offset, inclusive */
  end?: number
  /** the whole upload's size, when the client knows it */
  total?: number
}

const MAX = Number.MAX_SAFE_INTEGER

function num (s: string, what: string, header: string): number {
  if (!/^[0-9]{1,16}$/.test(s) || Number(s) > MAX) {
    throw new ImageError('NB_ERR_UPLOAD_RANGE', `Content-Range ${JSON.stringify(header)}: ${what} is not a byte offset`)
  }
  return Number(s)
}

/**
 * Parses the header. Without one, the body is the whole upload (start 0) and `contentLength`, when given, is
 * the total. Throws NB_ERR_UPLOAD_RANGE for anything malformed or inconsistent.
 */
export function parseContentRange (header: string | undefined, contentLength: number | undefined): UploadRange {
  if (header === undefined || header.trim() === '') {
    return contentLength === undefined ? { start: 0 } : { start: 0, end: contentLength - 1, total: contentLength }
  }
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|(\*))\/(\d+|\*)\s*$/i.exec(header)
  if (m === null) {
    throw new ImageError('NB_ERR_UPLOAD_RANGE', `Content-Range ${JSON.stringify(header.slice(0, 80))} is not "bytes START-END/TOTAL", "bytes START-END/*" or "bytes */TOTAL"`)
  }
  const total = m[4] === '*' ? undefined : num(m[4], 'TOTAL', header)
  if (m[3] === '*') {
    if (total === undefined) throw new ImageError('NB_ERR_UPLOAD_RANGE', 'Content-Range "bytes */*" says nothing')
    return { total }
  }
  const start = num(m[1], 'START', header)
  const end = num(m[2], 'END', header)
  if (end < start) throw new ImageError('NB_ERR_UPLOAD_RANGE', `Content-Range ${JSON.stringify(header)}: END is before START`)
  if (total !== undefined && end >= total) throw new ImageError('NB_ERR_UPLOAD_RANGE', `Content-Range ${JSON.stringify(header)}: END is beyond TOTAL`)
  if (contentLength !== undefined && contentLength !== end - start + 1) {
    throw new ImageError('NB_ERR_UPLOAD_RANGE', `Content-Range ${JSON.stringify(header)} covers ${end - start + 1} bytes but Content-Length is ${contentLength}`)
  }
  return { start, end, total }
}
