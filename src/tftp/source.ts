// Where a transfer's bytes come from: a buffer (cache hit, virtual file) or a file streamed through a bounded
// read-ahead chunk, so a 500 MiB boot.wim costs one chunk of memory per transfer, not 500 MiB.
import { open, type FileHandle } from 'node:fs/promises'
import { NetbootError } from '../errors.js'

export interface Source {
  readonly size: number
  /**
   * Bytes [offset, offset+length) (length already clamped to size by the caller). Synchronous when the range is
   * in memory; a Promise when it must be read. The returned buffer must not be modified.
   */
  slice (offset: number, length: number): Buffer | Promise<Buffer>
  close (): Promise<void>
}

export class BufferSource implements Source {
  readonly size: number
  constructor (private readonly buf: Buffer) { this.size = buf.length }
  slice (offset: number, length: number): Buffer { return this.buf.subarray(offset, offset + length) }
  async close (): Promise<void> {}
}

/** The file shrank or failed to read while it was being served. */
export class SourceReadError extends NetbootError {
  constructor (message: string, options?: { cause?: unknown }) {
    super('NB_ERR_TFTP_READ', message, 500, options)
    this.name = 'SourceReadError'
  }
}

/**
 * Streams an open file. One chunk of read-ahead is kept; a new chunk is a new Buffer (never reused) because
 * datagrams still queued in the socket may reference the old one. The next chunk is prefetched once the
 * transfer has used half of the current one, so the send loop rarely waits for the disk.
 */
export class FileSource implements Source {
  private chunk: Buffer = Buffer.alloc(0)
  private chunkAt = 0
  private next?: { at: number, p: Promise<Buffer> }
  private closed = false

  private constructor (private readonly fh: FileHandle, readonly size: number, private chunkSize: number) {}

  /**
   * Sets the read-ahead chunk once the options are known (two windows of the negotiated size, at least 128 KiB,
   * at most 4 MiB): memory per streamed transfer is about two chunks (current + prefetched).
   */
  setReadAhead (blksize: number, windowsize: number): void {
    this.chunkSize = Math.min(Math.max(128 * 1024, 2 * blksize * windowsize), 4 * 1024 * 1024)
  }

  /** Opens `path` and checks it is still a regular file (it may have changed since the path was resolved). */
  static async open (path: string, chunkSize: number): Promise<FileSource> {
    const fh = await open(path, 'r')
    try {
      const st = await fh.stat()
      if (!st.isFile()) throw new SourceReadError('not a regular file')
      return new FileSource(fh, st.size, chunkSize)
    } catch (err) {
      await fh.close().catch(() => {})
      throw err
    }
  }

  slice (offset: number, length: number): Buffer | Promise<Buffer> {
    const rel = offset - this.chunkAt
    if (rel >= 0 && rel + length <= this.chunk.length) {
      if (rel + length > this.chunk.length / 2) this.prefetch(this.chunkAt + this.chunk.length)
      return this.chunk.subarray(rel, rel + length)
    }
    return this.load(offset, length)
  }

  private prefetch (at: number): void {
    if (this.next !== undefined || at >= this.size || this.closed) return
    const p = this.read(at, Math.min(this.chunkSize, this.size - at))
    p.catch(() => {}) // surfaced when load() awaits it
    this.next = { at, p }
  }

  private async load (offset: number, length: number): Promise<Buffer> {
    const want = Math.max(length, Math.min(this.chunkSize, this.size - offset))
    const pending = this.next
    this.next = undefined
    let buf: Buffer
    if (pending !== undefined && pending.at === offset && (await pending.p).length >= length) {
      buf = await pending.p
    } else {
      buf = await this.read(offset, want)
    }
    this.chunk = buf
    this.chunkAt = offset
    return buf.subarray(0, length)
  }

  private async read (at: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length)
    let got = 0
    try {
      while (got < length) {
        const { bytesRead } = await this.fh.read(buf, got, length - got, at + got)
        if (bytesRead === 0) break
        got += bytesRead
      }
    } catch (err) {
      throw new SourceReadError(`read failed at offset ${at + got}`, { cause: err })
    }
    if (got < length) throw new SourceReadError(`file shrank while being served (short read at offset ${at + got})`)
    return buf
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.chunk = Buffer.alloc(0)
    const pending = this.next
    this.next = undefined
    // Let an in-flight read settle before the handle goes away.
    if (pending !== undefined) await pending.p.catch(() => {})
    await this.fh.close().catch(() => {})
  }
}
