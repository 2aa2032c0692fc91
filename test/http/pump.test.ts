// Streaming under bad conditions, against a listening server: clients that vanish mid-download and a file that
// shrinks while it is being sent. The server must neither hang a download nor present a short file as whole.
import t from 'tap'
import { get, type IncomingMessage } from 'node:http'
import { once } from 'node:events'
import { truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { makeLab } from './helpers.js'
import { createService } from '../../src/http/service.js'
import { activeDownloads, chunkSize } from '../../src/http/pump.js'

const SIZE = 64 * 1024 * 1024

async function serve (t: { teardown (fn: () => unknown): void }): Promise<{ url: string, file: string }> {
  const lab = await makeLab(t, 'images:\n  - {id: big, file: big.wim}\n')
  const file = join(lab.dirs.images, 'big.wim')
  await writeFile(file, randomBytes(SIZE))
  const svc = createService(lab.ctx)
  await svc!.start()
  t.teardown(async () => await svc!.stop())
  return { url: `http://127.0.0.1:${svc!.port()}/images/big`, file }
}

async function drained (): Promise<void> {
  for (let i = 0; i < 500 && activeDownloads() > 0; i++) await new Promise(r => setTimeout(r, 10))
}

t.test('chunk size shrinks as downloads join and stays within bounds', async t => {
  t.equal(chunkSize(1), 1024 * 1024)
  t.equal(chunkSize(8), 1024 * 1024)
  t.equal(chunkSize(50), 128 * 1024)
  t.equal(chunkSize(100), 64 * 1024)
  t.equal(chunkSize(100000), 64 * 1024)
})

t.test('clients that disconnect mid-download free their download; the next one gets the whole file', async t => {
  const { url } = await serve(t)
  const clients = await Promise.all(Array.from({ length: 10 }, async () => {
    const req = get(url)
    const [res] = await once(req, 'response') as [IncomingMessage]
    await once(res, 'data')
    req.destroy()
    return res.statusCode
  }))
  t.same(clients, Array(10).fill(200))
  await drained()
  t.equal(activeDownloads(), 0, 'every aborted download ended')
  const res = await fetch(url)
  t.equal((await res.arrayBuffer()).byteLength, SIZE)
})

t.test('a file that shrinks under a download cuts the response short instead of completing it', async t => {
  const { url, file } = await serve(t)
  const req = get(url)
  const [res] = await once(req, 'response') as [IncomingMessage]
  t.equal(res.headers['content-length'], String(SIZE))
  res.pause()
  await truncate(file, 1024)
  let got = 0
  res.on('data', (c: Buffer) => { got += c.length })
  res.resume()
  const outcome = await new Promise<string>(resolve => {
    res.on('end', () => resolve(res.complete ? 'complete' : 'incomplete'))
    res.on('error', () => resolve('error'))
    res.on('aborted', () => resolve('error'))
  })
  t.not(outcome, 'complete', `client sees an incomplete response (${outcome})`)
  t.ok(got < SIZE, `received ${got} of ${SIZE}`)
  await drained()
  t.equal(activeDownloads(), 0)
})
