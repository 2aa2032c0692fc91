// Resolve a client-supplied relative path inside a served directory, or refuse. The URL router has already
// percent-decoded it once, so `%2e%2e` arrives as `..` and `%2f` as `/`: we judge the decoded text and never
// decode again. Symlinks are allowed only when their target stays inside the root (realpath check).
import { realpath, stat } from 'node:fs/promises'
import { isAbsolute, join, sep } from 'node:path'
import { BadPathError, FileMissingError } from './errors.js'

/** Syntax check: no NUL, no backslash (Windows separators), not absolute, no empty, `.` or `..` segment. */
export function checkRelative (rel: string): void {
  if (rel === '') throw new BadPathError('empty path')
  if (rel.includes('\0')) throw new BadPathError('NUL byte')
  if (rel.includes('\\')) throw new BadPathError('backslash')
  if (rel.startsWith('/') || isAbsolute(rel)) throw new BadPathError('absolute path')
  for (const seg of rel.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') throw new BadPathError(`segment ${JSON.stringify(seg)}`)
  }
}

/**
 * The real path of a regular file under `root`; NB_ERR_HTTP_BAD_PATH or NB_ERR_HTTP_NO_FILE otherwise.
 * `trustedLink`: the admin named this very file in the config, so a symlink out of the root is followed (Debian's
 * ipxe package installs /usr/lib/ipxe/ipxe.efi as a link to /boot/ipxe.efi).
 */
export async function resolveInside (root: string, rel: string, hint = '', trustedLink = false): Promise<string> {
  checkRelative(rel)
  const missing = () => new FileMissingError(`no file ${rel}${hint}`)
  let realRoot: string
  let real: string
  try {
    realRoot = await realpath(root)
    real = await realpath(join(root, rel))
  } catch {
    throw missing()
  }
  if (!trustedLink && !real.startsWith(realRoot + sep)) throw missing()     // a symlink pointing out of the root
  const st = await stat(real).catch(() => undefined)
  if (st === undefined || !st.isFile()) throw missing()
  return real
}
