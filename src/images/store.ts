// The image store: WIM files in cfg.paths.images, their catalogue (SHA-256, size, WIM metadata) in the state
// store. Adding is atomic (DESIGN "Errors and bad input" 6): temp name in the same directory, fsync, rename,
// then the catalogue entry — a failure leaves neither a file nor an entry.
import { mkdir, rename, stat, readdir } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import type { ImageCatalog, ImageEntry } from '../store/types.js'
import type { AppConfig } from '../config/schema.js'
import type { AppContext } from '../service.js'
import { systemClock, type Clock } from '../clock.js'
import { KeyedLock } from '../store/lock.js'
import { readWimInfo, type WimInfo } from './wim.js'
import { ImageError, WimError } from './errors.js'
import { ensureSpace, diskFullOr, freeBytes as realFreeBytes, hashFile, durableRename, unlinkQuiet, syncDir, type FreeBytes } from './fsutil.js'
import { placeCopy, placeMove, type Placed } from './place.js'

/** A catalogue entry whose `wim` is what src/images/wim.ts read. */
export type CatalogImage = ImageEntry & { wim: WimInfo }

export interface AddOptions {
  /** move instead of copy (rename when on the same file system); the source is kept if adding fails */
  move?: boolean
  /**
   * SHA-256 the caller already computed (an upload verified against the client's). A copy must hash to it
   * (else NB_ERR_IMAGE_CHECKSUM); a same-file-system move trusts it instead of reading the file again.
   */
  knownSha256?: string
}

export interface VerifyReport {
  id: string
  ok: boolean
  file: string
  expectedSha256: string
  actualSha256?: string
  expectedSize: number
  actualSize?: number
  /** one line per problem: missing file, size or checksum mismatch, unreadable WIM */
  problems: string[]
}

export interface RemoveResult { id: string, file: string, forced: boolean, referencedBy: string[] }

export interface ImageStore {
  readonly dir: string
  add (src: string, id: string, opts?: AddOptions): Promise<CatalogImage>
  list (): Promise<CatalogImage[]>
  /** Throws NB_ERR_IMAGE_NOT_FOUND. */
  info (id: string): Promise<CatalogImage>
  verify (id: string): Promise<VerifyReport>
  remove (id: string, opts?: { force?: boolean }): Promise<RemoveResult>
  /** Task sequences of the current config whose applyImage steps name this image. */
  references (id: string): string[]
  /** Path of a catalogued image's file. */
  pathOf (entry: Pick<ImageEntry, 'file'>): string
  /** Deletes leftover temp files (`.*.tmp`, `.*.del`) older than `olderThanMs` from the image directory. */
  sweep (olderThanMs?: number): Promise<string[]>
}

export interface ImageStoreDeps {
  catalog: ImageCatalog
  dir: string
  /** current config, for the task-sequence references that block a removal */
  config?: () => Pick<AppConfig, 'taskSequences'>
  clock?: Clock
  /** injectable for tests (a real tmpfs fills up for real; this lets a test skip the up-front check) */
  freeBytes?: FreeBytes
}

/** Same rule as config ids (src/config/schema.ts Id): safe as a file name and in URLs. */
export const IMAGE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

export function checkImageId (id: string): void {
  if (!IMAGE_ID_RE.test(id)) {
    throw new ImageError('NB_ERR_IMAGE_BAD_ID', `invalid image id ${JSON.stringify(id)}: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
}

export function imageFileName (id: string): string { return `${id}.wim` }

async function exists (p: string): Promise<boolean> {
  return await stat(p).then(() => true, () => false)
}

export function createImageStore (deps: ImageStoreDeps): ImageStore {
  const { catalog, dir } = deps
  const clock = deps.clock ?? systemClock
  const free = deps.freeBytes ?? realFreeBytes
  const lock = new KeyedLock()
  const pathOf = (e: Pick<ImageEntry, 'file'>): string => join(dir, e.file)

  async function info (id: string): Promise<CatalogImage> {
    const e = await catalog.get(id)
    if (e === undefined) throw new ImageError('NB_ERR_IMAGE_NOT_FOUND', `no image ${JSON.stringify(id)} in the catalog`)
    return e as CatalogImage
  }

  function references (id: string): string[] {
    const ts = deps.config?.().taskSequences ?? []
    return ts.filter(t => t.steps.some(s => s.type === 'applyImage' && s.image === id)).map(t => t.id)
  }

  async function checkSource (src: string): Promise<WimInfo> {
    const st = await stat(src).catch((err: NodeJS.ErrnoException) => {
      throw new ImageError('NB_ERR_IMAGE_SOURCE', `cannot read ${src}: ${err.code ?? err.message}`, { cause: err })
    })
    if (!st.isFile()) throw new ImageError('NB_ERR_IMAGE_SOURCE', `${src} is not a regular file`)
    return await readWimInfo(src) // refuse non-WIMs before copying anything
  }

  async function add (src: string, id: string, opts: AddOptions = {}): Promise<CatalogImage> {
    checkImageId(id)
    return await lock.run(id, async () => {
      const file = imageFileName(id)
      const final = join(dir, file)
      if (await catalog.get(id) !== undefined) throw new ImageError('NB_ERR_IMAGE_EXISTS', `image ${id} is already in the catalog`)
      if (await exists(final)) {
        throw new ImageError('NB_ERR_IMAGE_EXISTS', `${final} exists but is not catalogued: move it away or choose another id`)
      }
      await checkSource(src)
      await mkdir(dir, { recursive: true })
      const tmp = join(dir, `.${file}.${randomBytes(6).toString('hex')}.tmp`)
      let placed: Placed | undefined
      let wim: WimInfo
      try {
        placed = opts.move === true
          ? await placeMove(src, tmp, dir, free, opts.knownSha256)
          : await placeCopy(src, tmp, dir, free)
        if (opts.knownSha256 !== undefined && placed.sha256 !== opts.knownSha256) {
          throw new ImageError('NB_ERR_IMAGE_CHECKSUM', `${src} has SHA-256 ${placed.sha256}, expected ${opts.knownSha256}`)
        }
        wim = await readWimInfo(tmp) // what landed, not what we hoped to copy
        await durableRename(tmp, final)
      } catch (err) {
        if (placed?.renamed === true) await rename(tmp, src).catch(() => {})
        await unlinkQuiet(tmp)
        throw diskFullOr(err, dir)
      }
      const entry: CatalogImage = { id, file, size: placed.size, sha256: placed.sha256, addedAt: clock.now().toISOString(), wim }
      try {
        await catalog.put(entry)
      } catch (err) {
        if (placed.renamed) await rename(final, src).catch(() => unlinkQuiet(final))
        else await unlinkQuiet(final)
        await syncDir(dir).catch(() => {})
        throw err
      }
      if (opts.move === true && !placed.renamed) await unlinkQuiet(src)
      return entry
    })
  }

  async function verify (id: string): Promise<VerifyReport> {
    const e = await info(id)
    const r: VerifyReport = { id, ok: false, file: pathOf(e), expectedSha256: e.sha256, expectedSize: e.size, problems: [] }
    try {
      const h = await hashFile(r.file)
      r.actualSha256 = h.sha256
      r.actualSize = h.size
      if (h.size !== e.size) r.problems.push(`size is ${h.size} bytes, catalog says ${e.size}`)
      if (h.sha256 !== e.sha256) r.problems.push(`SHA-256 is ${h.sha256}, catalog says ${e.sha256}`)
      await readWimInfo(r.file).catch((err: unknown) => {
        r.problems.push(err instanceof WimError ? `${err.code}: ${err.message}` : String(err))
      })
    } catch (err) {
      r.problems.push(`cannot read ${r.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
    r.ok = r.problems.length === 0
    return r
  }

  async function remove (id: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    return await lock.run(id, async () => {
      const e = await info(id)
      const refs = references(id)
      if (refs.length > 0 && opts.force !== true) {
        throw new ImageError('NB_ERR_IMAGE_IN_USE',
          `image ${id} is used by task sequence(s) ${refs.join(', ')}: change those steps first, or remove with --force`)
      }
      const path = pathOf(e)
      const trash = join(dir, `.${e.file}.${randomBytes(6).toString('hex')}.del`)
      const moved = await rename(path, trash).then(() => true, (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return false // file already gone: still drop the entry
        throw err
      })
      try {
        await catalog.delete(id)
      } catch (err) {
        if (moved) await rename(trash, path).catch(() => {})
        throw err
      }
      if (moved) await unlinkQuiet(trash)
      await syncDir(dir).catch(() => {})
      return { id, file: e.file, forced: refs.length > 0, referencedBy: refs }
    })
  }

  async function sweep (olderThanMs = 3600_000): Promise<string[]> {
    const names = await readdir(dir).catch(() => [] as string[])
    const removed: string[] = []
    for (const n of names) {
      if (!/^\..+\.[0-9a-f]{12}\.(tmp|del)$/.test(n)) continue
      const st = await stat(join(dir, n)).catch(() => undefined)
      // File ages are wall-clock (mtime), so they are compared with Date.now(), not the injected clock.
      if (st === undefined || Date.now() - st.mtimeMs < olderThanMs) continue
      await unlinkQuiet(join(dir, n))
      removed.push(n)
    }
    return removed
  }

  return {
    dir,
    add,
    list: async () => ((await catalog.list()) as CatalogImage[]).sort((a, b) => a.id.localeCompare(b.id)),
    info,
    verify,
    remove,
    references,
    pathOf,
    sweep
  }
}

const shared = new WeakMap<object, Map<string, ImageStore>>()

/**
 * The image store of a running appliance (or of the CLI's own context). One instance per state store and image
 * directory, so the admin API and the upload route share its per-image lock.
 */
export function imageStoreFor (ctx: Pick<AppContext, 'store' | 'config' | 'clock'>): ImageStore {
  const dir = ctx.config.current().paths.images
  let byDir = shared.get(ctx.store)
  if (byDir === undefined) { byDir = new Map(); shared.set(ctx.store, byDir) }
  let s = byDir.get(dir)
  if (s === undefined) {
    s = createImageStore({ catalog: ctx.store.images, dir, config: () => ctx.config.current(), clock: ctx.clock })
    byDir.set(dir, s)
  }
  return s
}

export { ensureSpace }
