// Bounded LRU of hot file contents (boot loaders fetched by a whole room at once). An entry is valid while the
// file keeps its device, inode, size and mtime; any change reloads it. Concurrent misses for one file share a
// single read. Files above `threshold()` are never cached: they are streamed by FileSource.
import { open } from 'node:fs/promises'
import type { Stats } from 'node:fs'

interface Entry { buf: Buffer, dev: number, ino: number, size: number, mtimeMs: number }

/** Largest file the cache takes: a quarter of the budget, at most 32 MiB. */
const MAX_ENTRY = 32 * 1024 * 1024

function same (e: Entry, st: Stats): boolean {
  return e.dev === st.dev && e.ino === st.ino && e.size === st.size && e.mtimeMs === st.mtimeMs
}

export class FileCache {
  private readonly entries = new Map<string, Entry>()
  private readonly loading = new Map<string, Promise<Buffer | undefined>>()
  private bytes = 0
  hits = 0
  misses = 0

  constructor (private limit: number) {}

  /** Follows config tftp.cacheBytes on reload; shrinking evicts least recently used entries at once. */
  setLimit (limit: number): void {
    this.limit = limit
    this.evict()
  }

  threshold (): number {
    return Math.min(Math.floor(this.limit / 4), MAX_ENTRY)
  }

  get size (): { entries: number, bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes }
  }

  /**
   * The contents of `path` whose current stat is `st`, from memory or read now and remembered; undefined when
   * the file is too big to cache (the caller streams it) or changed while being read.
   */
  async get (path: string, st: Stats): Promise<Buffer | undefined> {
    const e = this.entries.get(path)
    if (e !== undefined && same(e, st)) {
      // Map order is the LRU order: move to the most recent end.
      this.entries.delete(path)
      this.entries.set(path, e)
      this.hits++
      return e.buf
    }
    if (e !== undefined) this.drop(path)
    if (st.size > this.threshold()) return undefined
    const key = `${path}\0${st.ino}\0${st.size}\0${st.mtimeMs}`
    let p = this.loading.get(key)
    if (p === undefined) {
      this.misses++
      p = this.load(path, st).finally(() => this.loading.delete(key))
      this.loading.set(key, p)
    }
    return await p
  }

  private async load (path: string, st: Stats): Promise<Buffer | undefined> {
    const fh = await open(path, 'r')
    try {
      const now = await fh.stat()
      if (!now.isFile() || now.ino !== st.ino || now.size !== st.size || now.mtimeMs !== st.mtimeMs) return undefined
      const buf = Buffer.allocUnsafe(now.size)
      let got = 0
      while (got < buf.length) {
        const { bytesRead } = await fh.read(buf, got, buf.length - got, got)
        if (bytesRead === 0) return undefined // shrank meanwhile: let the caller stream it
        got += bytesRead
      }
      this.put(path, { buf, dev: now.dev, ino: now.ino, size: now.size, mtimeMs: now.mtimeMs })
      return buf
    } finally {
      await fh.close().catch(() => {})
    }
  }

  private put (path: string, e: Entry): void {
    if (e.size > this.threshold()) return
    this.drop(path)
    this.entries.set(path, e)
    this.bytes += e.size
    this.evict()
  }

  private drop (path: string): void {
    const e = this.entries.get(path)
    if (e === undefined) return
    this.entries.delete(path)
    this.bytes -= e.size
  }

  private evict (): void {
    for (const [path] of this.entries) {
      if (this.bytes <= this.limit) break
      this.drop(path)
    }
  }

  clear (): void {
    this.entries.clear()
    this.bytes = 0
  }
}
