// File-system helpers of the image store: free space, hashed copy with fsync, durable rename.
import { open, statfs, rename, unlink, type FileHandle } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { dirname } from 'node:path'
import { ImageError } from './errors.js'

/** Kept free beyond the file itself, so the state store and logs on the same disk can still write. */
export const RESERVE_BYTES = 1024 * 1024

export type FreeBytes = (dir: string) => Promise<number>

/** Bytes available to an unprivileged writer (f_bavail × f_bsize). */
export const freeBytes: FreeBytes = async (dir) => {
  const s = await statfs(dir)
  return Number(s.bavail) * Number(s.bsize)
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`
}

/** Throws NB_ERR_DISK_FULL when `dir` cannot take `size` more bytes plus the reserve. */
export async function ensureSpace (dir: string, size: number, free: FreeBytes = freeBytes): Promise<void> {
  const avail = await free(dir)
  if (avail < size + RESERVE_BYTES) {
    throw new ImageError('NB_ERR_DISK_FULL',
      `not enough free space in ${dir}: ${formatBytes(size)} needed (+${formatBytes(RESERVE_BYTES)} reserve), ${formatBytes(avail)} available`)
  }
}

/** ENOSPC/EDQUOT while writing become NB_ERR_DISK_FULL; everything else is rethrown as is. */
export function diskFullOr (err: unknown, dir: string): unknown {
  const code = (err as NodeJS.ErrnoException)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ImageError('NB_ERR_DISK_FULL', `disk full while writing to ${dir} (${code}); nothing was stored`, { cause: err })
  }
  return err
}

const CHUNK = 1024 * 1024

/** Reads `path` in 1 MiB chunks, hashing each and handing it to `each` (the buffer is reused: copy to keep it). */
async function hashChunks (path: string, each?: (chunk: Buffer) => Promise<void>): Promise<{ size: number, sha256: string }> {
  const hash = createHash('sha256')
  const fh = await open(path, 'r')
  const buf = Buffer.allocUnsafe(CHUNK)
  let size = 0
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, size)
      if (bytesRead === 0) break
      const chunk = buf.subarray(0, bytesRead)
      hash.update(chunk)
      if (each !== undefined) await each(chunk)
      size += bytesRead
    }
  } finally {
    await fh.close()
  }
  return { size, sha256: hash.digest('hex') }
}

/** Streams `src` to the open handle `dst`, hashing as it goes, then fsyncs `dst`. Returns size and SHA-256. */
export async function copyHashed (src: string, dst: FileHandle): Promise<{ size: number, sha256: string }> {
  const result = await hashChunks(src, async (chunk) => {
    let off = 0
    while (off < chunk.length) off += (await dst.write(chunk, off, chunk.length - off)).bytesWritten
  })
  await dst.sync()
  return result
}

/** SHA-256 and size of a file, read in 1 MiB chunks. */
export async function hashFile (path: string): Promise<{ size: number, sha256: string }> {
  return await hashChunks(path)
}

/** fsync a directory so a rename or unlink inside it survives a crash. */
export async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

/** rename + fsync of the target's directory. */
export async function durableRename (from: string, to: string): Promise<void> {
  await rename(from, to)
  await syncDir(dirname(to))
}

export async function unlinkQuiet (path: string): Promise<void> {
  await unlink(path).catch(() => {})
}
