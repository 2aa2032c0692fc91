// Copy a byte range of an open file to an HTTP response with bounded memory. Each download owns two buffers
// (one being read while the other is in the socket) and reuses them; buffers come from a free list of
// power-of-two sizes and go back to it, so steady traffic allocates next to nothing and no garbage piles up
// between GCs. Backpressure is the write callback: a buffer is refilled only once the kernel has taken its
// bytes, so a slow client slows its own loop and nothing buffers the file. Callbacks, not promises: at
// 10 000 chunks per second the promise churn alone grew V8's young generation by tens of MB.
import { read } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import type { ServerResponse } from 'node:http'

/**
 * Read buffers of all downloads together stay near READ_BUDGET: each read uses a chunk of
 * READ_BUDGET / (2 × downloads running) rounded down to a power of two, between MIN_CHUNK and MAX_CHUNK,
 * re-evaluated at every read (a download that started alone shrinks its buffers when others join). One client
 * gets 1 MiB reads (few syscalls: close to nginx's sendfile on one stream); a hundred get 64 KiB each.
 */
export const READ_BUDGET = 16 * 1024 * 1024
export const MIN_CHUNK = 64 * 1024
export const MAX_CHUNK = 1024 * 1024
/** Idle buffers kept for the next reads; beyond this they go to the GC. */
const FREE_LIMIT = 16 * 1024 * 1024

let running = 0
const freeList = new Map<number, Buffer[]>()
let freeBytes = 0

/** Downloads streaming right now. */
export function activeDownloads (): number { return running }

export function chunkSize (downloads: number): number {
  const share = READ_BUDGET / (2 * Math.max(1, downloads))
  const pow2 = 2 ** Math.floor(Math.log2(Math.max(1, share)))
  return Math.min(MAX_CHUNK, Math.max(MIN_CHUNK, pow2))
}

function take (size: number): Buffer {
  const b = freeList.get(size)?.pop()
  if (b === undefined) return Buffer.allocUnsafeSlow(size)
  freeBytes -= size
  return b
}

function give (b: Buffer): void {
  if (freeBytes + b.length > FREE_LIMIT) return
  const list = freeList.get(b.length) ?? []
  list.push(b)
  freeList.set(b.length, list)
  freeBytes += b.length
}

export type PumpOutcome = 'done' | 'aborted'

/**
 * Write bytes start..end (inclusive) of fh to res, end it and close fh. Resolves 'done', or 'aborted' when the
 * client went away or the file could not be read (a read error or a file that shrank destroys the response:
 * the client sees a short body against its Content-Length, never wrong bytes presented as complete).
 */
export async function pump (fh: FileHandle, res: ServerResponse, start: number, end: number): Promise<PumpOutcome> {
  const outcome = await new Promise<PumpOutcome>(resolve => { new Copier(fh.fd, res, start, end, resolve).next() })
  await fh.close().catch(() => {})
  return outcome
}

class Copier {
  private readonly bufs: Buffer[]
  private readonly busy = [false, false]       // a write of that buffer is in flight
  private readonly written: Array<(err?: Error | null) => void>
  private i = 0
  private reading = false
  private gone = false
  private finished = false

  constructor (private readonly fd: number, private readonly res: ServerResponse, private pos: number,
    private readonly end: number, private readonly resolve: (o: PumpOutcome) => void) {
    running++
    this.bufs = [take(chunkSize(running)), take(chunkSize(running))]
    this.written = [0, 1].map(k => (err?: Error | null) => this.onWritten(k, err))
    res.once('close', this.onClose)
    if (res.destroyed) this.gone = true
  }

  /** Start the next read if a buffer is free; end when everything was read and written. */
  next (): void {
    if (this.finished || this.reading) return
    if (this.gone) return this.finish('aborted')
    if (this.pos > this.end) {
      if (!this.busy[0] && !this.busy[1]) { this.res.end(); this.finish('done') }
      return
    }
    const k = this.i
    if (this.busy[k]) return
    const want = chunkSize(running)
    if (this.bufs[k].length !== want) { give(this.bufs[k]); this.bufs[k] = take(want) }
    this.reading = true
    read(this.fd, this.bufs[k], 0, Math.min(want, this.end - this.pos + 1), this.pos, (err, n) => this.onRead(k, err, n))
  }

  private onRead (k: number, err: NodeJS.ErrnoException | null, n: number): void {
    this.reading = false
    if (this.finished) return
    if (err !== null || n === 0) {
      this.res.destroy(err ?? new Error(`file ended at byte ${this.pos}, before ${this.end + 1}`))
      this.gone = true
      return this.next()
    }
    this.pos += n
    this.busy[k] = true
    this.i = k ^ 1
    const b = this.bufs[k]
    this.res.write(n === b.length ? b : b.subarray(0, n), this.written[k])
    this.next()
  }

  private onWritten (k: number, err?: Error | null): void {
    this.busy[k] = false
    if (err != null) this.gone = true
    this.next()
  }

  private readonly onClose = (): void => {
    this.gone = true
    this.next()
  }

  private finish (outcome: PumpOutcome): void {
    this.finished = true
    running--
    this.res.off('close', this.onClose)
    // A buffer whose write was cut off may still be referenced by the socket: leave it to the GC.
    for (let k = 0; k < 2; k++) if (!this.busy[k]) give(this.bufs[k])
    this.resolve(outcome)
  }
}
