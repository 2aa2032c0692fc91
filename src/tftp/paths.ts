// Request path → file under the TFTP root, or a refusal with the TFTP error code the client sees.
// normalizeRequestPath is pure; resolveInRoot touches the file system (realpath, readdir, stat) and nothing else.
// Windows clients (bootmgr, WDS-era ROMs) send backslashes and any letter case; nothing may leave the root.
import { realpath, readdir, stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { join, sep } from 'node:path'
import { ERR } from './packet.js'

export interface Refusal {
  ok: false
  /** the TFTP error code sent to the client: 1 file not found, 2 access violation */
  code: typeof ERR.NOT_FOUND | typeof ERR.ACCESS
  /** the message sent to the client (and logged) */
  reason: string
}
export interface Normalized { ok: true, rel: string, segments: string[] }
export interface Resolved { ok: true, path: string, rel: string, stats: Stats }

/** Longest request path we consider (bytes as latin1 chars); PXE file fields are 128 bytes. */
export const MAX_PATH = 1024
/** Longest single name (NAME_MAX on Linux). */
export const MAX_SEGMENT = 255

const refuse = (code: Refusal['code'], reason: string): Refusal => ({ ok: false, code, reason })

/**
 * Pure normalization: backslashes become slashes, leading slashes are stripped, `.` and empty segments go;
 * `..` anywhere, drive letters (C:), control characters (NUL included) and over-long names are refused.
 * `..` is refused even when it would stay inside the root: no legitimate boot file name needs it.
 */
export function normalizeRequestPath (raw: string): Normalized | Refusal {
  if (raw.length > MAX_PATH) return refuse(ERR.ACCESS, `path longer than ${MAX_PATH} bytes`)
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) return refuse(ERR.ACCESS, 'control character in path')
  const slashed = raw.replace(/\\/g, '/')
  if (/^[A-Za-z]:/.test(slashed)) return refuse(ERR.ACCESS, 'drive letters are not allowed')
  const segments: string[] = []
  for (const s of slashed.split('/')) {
    if (s === '' || s === '.') continue
    if (s === '..') return refuse(ERR.ACCESS, 'parent directory (..) is not allowed')
    if (s.length > MAX_SEGMENT) return refuse(ERR.ACCESS, `name longer than ${MAX_SEGMENT} bytes`)
    segments.push(s)
  }
  if (segments.length === 0) return refuse(ERR.NOT_FOUND, 'no file name')
  return { ok: true, rel: segments.join('/'), segments }
}

function errno (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code
}

/**
 * Case-insensitive fallback: walk the segments from the root, taking the exact name when it exists and
 * otherwise the first (sorted) entry that matches ignoring case. Returns undefined when a segment is missing.
 */
async function caseInsensitive (root: string, segments: string[]): Promise<string | undefined> {
  let dir = root
  for (const seg of segments) {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch {
      return undefined
    }
    if (names.includes(seg)) {
      dir = join(dir, seg)
      continue
    }
    const lower = seg.toLowerCase()
    const match = names.filter(n => n.toLowerCase() === lower).sort()[0]
    if (match === undefined) return undefined
    dir = join(dir, match)
  }
  return dir
}

function inside (rootReal: string, p: string): boolean {
  return p.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep)
}

async function realOrMissing (p: string): Promise<string | Refusal | undefined> {
  try {
    return await realpath(p)
  } catch (err) {
    const code = errno(err)
    if (code === 'ELOOP') return refuse(ERR.ACCESS, 'symbolic link loop')
    if (code === 'EACCES') return refuse(ERR.ACCESS, 'permission denied')
    if (code === 'ENAMETOOLONG') return refuse(ERR.ACCESS, 'path too long')
    return undefined
  }
}

/**
 * Resolves normalized segments under `root` (which must exist). Symlinks are followed and the real path must
 * stay inside the real root, unless `trustedLink`: the admin named this very path in the config (bootLoaders),
 * and Debian's ipxe package installs /usr/lib/ipxe/ipxe.efi as a link to /boot/ipxe.efi. Only regular files
 * are served (no FIFOs that would block, no devices).
 */
export async function resolveInRoot (root: string, n: Normalized, trustedLink = false): Promise<Resolved | Refusal> {
  let rootReal: string
  try {
    rootReal = await realpath(root)
  } catch {
    return refuse(ERR.NOT_FOUND, 'TFTP root does not exist')
  }
  let real = await realOrMissing(join(rootReal, ...n.segments))
  if (real === undefined) {
    const ci = await caseInsensitive(rootReal, n.segments)
    if (ci !== undefined) real = await realOrMissing(ci)
  }
  if (real === undefined) return refuse(ERR.NOT_FOUND, 'file not found')
  if (typeof real !== 'string') return real
  if (!trustedLink && !inside(rootReal, real)) return refuse(ERR.ACCESS, 'path leads outside the TFTP root')
  let stats: Stats
  try {
    stats = await stat(real)
  } catch {
    return refuse(ERR.NOT_FOUND, 'file not found')
  }
  if (!stats.isFile()) return refuse(ERR.ACCESS, 'not a regular file')
  return { ok: true, path: real, rel: n.rel, stats }
}

/** True when the normalized request is exactly one of the paths the admin named (config bootLoaders). */
export function isNamedPath (n: Normalized, named: readonly string[]): boolean {
  return named.some(p => {
    const m = normalizeRequestPath(p)
    return m.ok && m.rel === n.rel
  })
}
