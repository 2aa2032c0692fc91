// Resumable, verified capture uploads into the image store (the protocol is in src/http/routes/uploads.ts).
// A half-finished upload lives only under <paths.state>/uploads/ as ID.part + ID.json; the image store sees it
// only once all bytes are there, their SHA-256 equals the client's and the WIM header and XML parse.
import { mkdir, open, readFile, readdir, rename, stat, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createHash, type Hash } from 'node:crypto'
import type { Clock } from '../clock.js'
import { KeyedLock } from '../store/lock.js'
import { ImageError, WimError } from './errors.js'
import { checkImageId, type CatalogImage, type ImageStore } from './store.js'
import { diskFullOr, ensureSpace, freeBytes as realFreeBytes, hashFile, unlinkQuiet, type FreeBytes } from './fsutil.js'

export interface UploadMeta {
  imageId: string
  /** who started it: `deployment:<id>` or `capture-token` */
  owner: string
  total?: number
  sha256?: string
  createdAt: string
  updatedAt: string
}

export interface UploadStatus {
  imageId: string
  /** bytes the server holds: the next request starts here */
  offset: number
  total?: number
  /** the image is in the catalog (with the SHA-256 the client named, when it named one) */
  complete: boolean
  image?: CatalogImage
}

export interface Chunk {
  imageId: string
  owner: string
  start: number
  /** bytes announced for this body (END-START+1), when known */
  length?: number
  total?: number
  sha256?: string
  body: AsyncIterable<Buffer | Uint8Array>
  /** abort the transfer behind `body` (a newer request for the same image takes over) */
  cancel?: () => void
}

export interface Uploads {
  readonly dir: string
  status (imageId: string, sha256?: string): Promise<UploadStatus>
  put (c: Chunk): Promise<UploadStatus>
  /** Deletes uploads untouched for longer than `maxAgeMs` (by the injected clock). Returns their image ids. */
  sweep (maxAgeMs: number): Promise<string[]>
}

export interface UploadDeps {
  /** <paths.state>/uploads */
  dir: string
  images: ImageStore
  clock: Clock
  freeBytes?: FreeBytes
}

const SHA_RE = /^[0-9a-f]{64}$/
const WRITE_BATCH = 1024 * 1024

export function checkSha256 (v: string | undefined): string | undefined {
  if (v === undefined || v.trim() === '') return undefined
  const s = v.trim().toLowerCase()
  if (!SHA_RE.test(s)) throw new ImageError('NB_ERR_UPLOAD_RANGE', 'X-Checksum-SHA256 must be 64 hex digits (the SHA-256 of the whole WIM)')
  return s
}

export function createUploads (deps: UploadDeps): Uploads {
  const { dir, images, clock } = deps
  const free = deps.freeBytes ?? realFreeBytes
  const lock = new KeyedLock()
  const active = new Map<string, () => void>()
  /**
   * SHA-256 of each upload's bytes [0, pos), updated as bytes are written, so the last chunk is verified
   * without reading the whole WIM again (a slow finish would outlast the client's patience). Rebuilt from the
   * file once when an upload resumes at another offset (a daemon restart, a re-sent range).
   */
  const running = new Map<string, { hash: Hash, pos: number }>()
  const partOf = (id: string): string => join(dir, `${id}.part`)
  const metaOf = (id: string): string => join(dir, `${id}.json`)
  const now = (): string => clock.now().toISOString()

  async function readMeta (id: string): Promise<UploadMeta | undefined> {
    try {
      return JSON.parse(await readFile(metaOf(id), 'utf8')) as UploadMeta
    } catch {
      return undefined
    }
  }

  async function writeMeta (m: UploadMeta): Promise<void> {
    const tmp = `${metaOf(m.imageId)}.tmp`
    await writeFile(tmp, JSON.stringify(m))
    await rename(tmp, metaOf(m.imageId))
  }

  async function held (id: string): Promise<number> {
    return await stat(partOf(id)).then(s => s.size, () => 0)
  }

  async function drop (id: string): Promise<void> {
    running.delete(id)
    await unlinkQuiet(partOf(id))
    await unlinkQuiet(metaOf(id))
  }

  /** The upload must fit in the uploads directory, and again in the image store when that is another disk. */
  async function checkSpace (need: number): Promise<void> {
    await ensureSpace(dir, need, free)
    await mkdir(images.dir, { recursive: true })
    const [a, b] = await Promise.all([stat(dir), stat(images.dir)])
    if (a.dev !== b.dev) await ensureSpace(images.dir, need, free)
  }

  async function catalogued (id: string, sha256?: string): Promise<CatalogImage | undefined> {
    const e = await images.info(id).catch(() => undefined)
    if (e === undefined) return undefined
    if (sha256 !== undefined && e.sha256 === sha256) return e
    throw new ImageError('NB_ERR_IMAGE_EXISTS', `image ${id} is already in the catalog: remove it first (netboot images remove ${id}) or capture under another id`)
  }

  async function status (imageId: string, sha256?: string): Promise<UploadStatus> {
    checkImageId(imageId)
    const done = await catalogued(imageId, checkSha256(sha256)).catch(() => undefined)
    if (done !== undefined) return { imageId, offset: done.size, total: done.size, complete: true, image: done }
    const meta = await readMeta(imageId)
    return { imageId, offset: meta === undefined ? 0 : await held(imageId), total: meta?.total, complete: false }
  }

  /** Validates the chunk against what is held; returns the meta to continue with. */
  async function begin (c: Chunk): Promise<UploadMeta> {
    const meta = await readMeta(c.imageId)
    const offset = meta === undefined ? 0 : await held(c.imageId)
    if (c.start === 0) {
      await drop(c.imageId) // a new upload (or a client starting over)
      await checkSpace(c.total ?? c.length ?? 0)
      const m: UploadMeta = { imageId: c.imageId, owner: c.owner, total: c.total, sha256: c.sha256, createdAt: now(), updatedAt: now() }
      await (await open(partOf(c.imageId), 'w', 0o600)).close()
      await writeMeta(m)
      return m
    }
    if (meta === undefined || c.start > offset) {
      throw new ImageError('NB_ERR_UPLOAD_RANGE', `upload of ${c.imageId}: the server holds ${offset} bytes, this request starts at ${c.start}; resume from ${offset}`)
    }
    if (meta.owner !== c.owner) throw new ImageError('NB_ERR_UPLOAD_STATE', `upload of ${c.imageId} was started by ${meta.owner}; start over from 0`)
    if (meta.total !== undefined && c.total !== undefined && meta.total !== c.total) {
      throw new ImageError('NB_ERR_UPLOAD_STATE', `upload of ${c.imageId} announced ${meta.total} bytes, this request says ${c.total}; start over from 0`)
    }
    if (c.start < offset) await truncate(partOf(c.imageId), c.start) // the client re-sends what it was not sure we got
    const need = (c.total ?? meta.total ?? c.start + (c.length ?? 0)) - c.start
    await checkSpace(Math.max(0, need))
    const m = { ...meta, total: c.total ?? meta.total, sha256: c.sha256 ?? meta.sha256, updatedAt: now() }
    await writeMeta(m)
    return m
  }

  async function hashUpTo (id: string, pos: number): Promise<{ hash: Hash, pos: number }> {
    const r = running.get(id)
    if (r !== undefined && r.pos === pos) return r
    const hash = createHash('sha256')
    if (pos > 0) {
      const fh = await open(partOf(id), 'r')
      const buf = Buffer.allocUnsafe(1024 * 1024)
      try {
        for (let at = 0; at < pos;) {
          const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, pos - at), at)
          if (bytesRead === 0) break
          hash.update(buf.subarray(0, bytesRead))
          at += bytesRead
        }
      } finally {
        await fh.close()
      }
    }
    const fresh = { hash, pos }
    running.set(id, fresh)
    return fresh
  }

  /** Appends the body at `start`; returns the new offset. The bytes that arrived are kept even when it aborts. */
  async function receive (c: Chunk): Promise<number> {
    const sum = await hashUpTo(c.imageId, c.start)
    const fh = await open(partOf(c.imageId), 'r+')
    let pos = c.start
    // Network reads are ~64 KiB; writing them in batches of ~1 MiB costs far fewer system calls.
    let pending: Buffer[] = []
    let pendingBytes = 0
    const flush = async (): Promise<void> => {
      if (pendingBytes === 0) return
      const b = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingBytes)
      pending = []
      pendingBytes = 0
      let off = 0
      while (off < b.length) off += (await fh.write(b, off, b.length - off, pos + off)).bytesWritten
      pos += b.length
      sum.hash.update(b)
      sum.pos = pos
    }
    try {
      for await (const chunk of c.body) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
        if (c.length !== undefined && pos + pendingBytes + b.length > c.start + c.length) {
          throw new ImageError('NB_ERR_UPLOAD_RANGE', `upload of ${c.imageId}: body longer than Content-Range announced`)
        }
        pending.push(b)
        pendingBytes += b.length
        if (pendingBytes >= WRITE_BATCH) await flush()
      }
      await flush()
    } catch (err) {
      if (!(err instanceof ImageError)) await flush().catch(() => {}) // keep what arrived before the cut
      await fh.sync().catch(() => {})
      await fh.close().catch(() => {})
      if (err instanceof ImageError) {
        running.delete(c.imageId)
        await truncate(partOf(c.imageId), c.start).catch(() => {})
      }
      throw diskFullOr(err, dir)
    }
    await fh.sync() // acknowledged bytes survive a crash
    await fh.close()
    return pos
  }

  async function finish (meta: UploadMeta): Promise<CatalogImage> {
    const id = meta.imageId
    if (meta.sha256 === undefined) {
      throw new ImageError('NB_ERR_UPLOAD_STATE', `upload of ${id} is complete but no X-Checksum-SHA256 was sent: re-send the last chunk with it`)
    }
    const r = running.get(id)
    const sha256 = r !== undefined && r.pos === meta.total ? r.hash.digest('hex') : (await hashFile(partOf(id))).sha256
    running.delete(id)
    if (sha256 !== meta.sha256) {
      await drop(id)
      throw new ImageError('NB_ERR_IMAGE_CHECKSUM', `upload of ${id}: received data has SHA-256 ${sha256}, the client sent ${meta.sha256}; the upload was discarded, start over`)
    }
    try {
      const entry = await images.add(partOf(id), id, { move: true, knownSha256: sha256 })
      await unlinkQuiet(metaOf(id))
      return entry
    } catch (err) {
      // Not a WIM, or no room in the image store, or the id got taken meanwhile: this upload cannot succeed.
      if (err instanceof WimError || err instanceof ImageError) await drop(id)
      throw err
    }
  }

  async function put (c: Chunk): Promise<UploadStatus> {
    checkImageId(c.imageId)
    const done = await catalogued(c.imageId, c.sha256)
    if (done !== undefined) return { imageId: c.imageId, offset: done.size, total: done.size, complete: true, image: done }
    active.get(c.imageId)?.() // a newer request takes over from one whose client gave up
    const cancel = c.cancel ?? (() => {})
    active.set(c.imageId, cancel)
    try {
      return await lock.run(c.imageId, async () => {
        await mkdir(dir, { recursive: true })
        const meta = await begin(c)
        let offset: number
        try {
          offset = await receive(c)
        } catch (err) {
          const e = diskFullOr(err, dir)
          if (e instanceof ImageError && e.code === 'NB_ERR_DISK_FULL') await drop(c.imageId)
          throw e
        }
        await writeMeta({ ...meta, updatedAt: now() })
        if (meta.total !== undefined && offset > meta.total) {
          await drop(c.imageId)
          throw new ImageError('NB_ERR_UPLOAD_RANGE', `upload of ${c.imageId}: ${offset} bytes received, more than the announced ${meta.total}; discarded`)
        }
        if (meta.total === undefined || offset < meta.total) return { imageId: c.imageId, offset, total: meta.total, complete: false }
        const image = await finish(meta)
        return { imageId: c.imageId, offset, total: meta.total, complete: true, image }
      })
    } finally {
      if (active.get(c.imageId) === cancel) active.delete(c.imageId)
    }
  }

  async function sweep (maxAgeMs: number): Promise<string[]> {
    const names = await readdir(dir).catch(() => [] as string[])
    const ours = /\.(part|json|json\.tmp)$/
    const ids = new Set(names.filter(n => ours.test(n)).map(n => n.replace(ours, '')))
    const removed: string[] = []
    for (const id of ids) {
      if (active.has(id)) continue
      await lock.run(id, async () => {
        const meta = await readMeta(id)
        const touched = meta !== undefined
          ? Date.parse(meta.updatedAt)
          : Math.max(...await Promise.all(names.filter(n => n.startsWith(`${id}.`)).map(async n => await stat(join(dir, n)).then(s => s.mtimeMs, () => 0))))
        const age = meta !== undefined ? clock.now().getTime() - touched : Date.now() - touched
        if (!(age > maxAgeMs)) return
        await drop(id)
        await unlinkQuiet(`${metaOf(id)}.tmp`)
        removed.push(id)
      })
    }
    return removed
  }

  return { dir, status, put, sweep }
}
