// FileSource streams with bounded read-ahead: every slice equals the file's bytes, forward, backward (a window
// restarted after a partial ACK) and across chunk edges; a file that shrinks while served is an error.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { writeFile, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { FileSource, SourceReadError } from '../../src/tftp/source.js'
import { tempRoot } from './helpers.js'

const dir = await tempRoot(t)
const data = randomBytes(1024 * 1024 + 17)
const path = join(dir, 'f.bin')
await writeFile(path, data)

t.test('slices equal the file, in any order the transfer asks', async t => {
  const src = await FileSource.open(path, 64 * 1024)
  t.teardown(() => src.close())
  t.equal(src.size, data.length)
  const asks: Array<[number, number]> = []
  for (let off = 0; off < data.length; off += 1468 * 8) asks.push([off, Math.min(1468 * 8, data.length - off)])
  asks.splice(30, 0, [1468 * 8 * 20, 1468 * 8], [0, 512], [data.length - 10, 10], [500000, 200000])
  for (const [off, len] of asks) {
    const got = await src.slice(off, len)
    if (!got.equals(data.subarray(off, off + len))) { t.fail(`slice ${off}+${len} differs`); return }
  }
  t.pass(`${asks.length} slices equal`)
})

t.test('a file that shrinks while being served is a SourceReadError', async t => {
  const p2 = join(dir, 'shrink.bin')
  await writeFile(p2, data)
  const src = await FileSource.open(p2, 64 * 1024)
  t.teardown(() => src.close())
  await src.slice(0, 1000)
  await truncate(p2, 100000)
  let caught: unknown
  try { await src.slice(500000, 1000) } catch (err) { caught = err }
  t.ok(caught instanceof SourceReadError)
  t.match((caught as Error).message, /shrank/)
})
