// Getting a source file onto a temp name inside the image directory: copy (hashing on the way, fsync) or move
// (rename on the same file system; copy across file systems, EXDEV). Free space is checked before any copy.
import { open, rename, stat } from 'node:fs/promises'
import { ensureSpace, copyHashed, hashFile, type FreeBytes } from './fsutil.js'

export interface Placed {
  size: number
  sha256: string
  /** true when the source itself was renamed to the temp name (the caller renames it back on failure) */
  renamed: boolean
}

export async function placeCopy (src: string, tmp: string, dir: string, free: FreeBytes): Promise<Placed> {
  const { size } = await stat(src)
  await ensureSpace(dir, size, free)
  // 'wx': never clobber; 0o644: WIMs are served read-only over HTTP.
  const fh = await open(tmp, 'wx', 0o644)
  try {
    const r = await copyHashed(src, fh)
    return { ...r, renamed: false }
  } finally {
    await fh.close()
  }
}

export async function placeMove (src: string, tmp: string, dir: string, free: FreeBytes, knownSha256?: string): Promise<Placed> {
  try {
    await rename(src, tmp)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err
    return await placeCopy(src, tmp, dir, free)
  }
  try {
    if (knownSha256 !== undefined) return { size: (await stat(tmp)).size, sha256: knownSha256, renamed: true }
    return { ...(await hashFile(tmp)), renamed: true }
  } catch (err) {
    await rename(tmp, src).catch(() => {}) // give the caller its file back
    throw err
  }
}
