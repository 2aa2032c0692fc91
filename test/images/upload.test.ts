// Capture uploads through the real HTTP app: resumed after a cut, abandoned and swept, disk full, wrong
// checksum, not a WIM, and who may upload (401/403, capture-media token).
import t, { type Test } from 'tap'
import { readFile, readdir, mkdir, rm, writeFile } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import type { AddressInfo } from 'node:net'
import { makeHarness, CAPTURE_TOKEN, type Harness } from './harness.js'
import { sh, makeTree, SAMPLE_TREE } from './wimlib.js'
import { buildHttpApp } from '../../src/http/app.js'

const h0 = await makeHarness(t)
await makeTree(join(h0.dir, 'src'), { ...SAMPLE_TREE, 'noise.bin': randomBytes(1600 * 1024) })
const wimPath = join(h0.dir, 'ref.wim')
await sh('wimcapture', ['--compress=none', join(h0.dir, 'src'), wimPath, 'Reference', 'captured'])
const wim = await readFile(wimPath)
const sha = createHash('sha256').update(wim).digest('hex')
const URL_PATH = '/pe/v1/capture/ref-win'

const auth = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

async function put (h: Harness, token: string, body: Buffer, headers: Record<string, string> = {}, path = URL_PATH) {
  return await h.app.inject({
    method: 'PUT', url: path, payload: body,
    headers: { ...auth(token), 'content-type': 'application/octet-stream', ...headers }
  })
}

async function nothingStored (t: Test, h: Harness): Promise<void> {
  t.same(await h.ctx.store.images.list(), [], 'nothing in the catalog')
  t.same((await readdir(h.cfg.paths.images)).filter(n => n.endsWith('.wim')), [], 'no WIM in the image store')
}

t.test('one PUT with the whole WIM → 201, catalogued with its metadata', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  const r = await put(h, token, wim, { 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 201, r.body)
  const e = await h.ctx.store.images.get('ref-win')
  t.equal(e?.sha256, sha)
  t.equal(e?.size, wim.length)
  t.equal((e?.wim as any).images[0].name, 'Reference')
  t.same(await readFile(join(h.cfg.paths.images, 'ref-win.wim')), wim)
  t.same(await readdir(join(h.cfg.paths.state, 'uploads')), [], 'upload area empty')
  // The PE may not have seen the 201: asking again with the same checksum says it is done.
  const again = await h.app.inject({ method: 'HEAD', url: URL_PATH, headers: { ...auth(token), 'x-checksum-sha256': sha } })
  t.equal(again.headers['upload-offset'], String(wim.length))
  const dup = await put(h, token, wim, { 'x-checksum-sha256': sha })
  t.equal(dup.statusCode, 201, 'same bytes again: idempotent')
  const other = await put(h, token, wim.subarray(0, 100), { 'x-checksum-sha256': 'a'.repeat(64) })
  t.equal(other.statusCode, 409, 'different bytes under a taken id')
  t.equal(other.json().code, 'NB_ERR_IMAGE_EXISTS')
})

/** Sends the PUT head and `sendBytes` of the body on a raw socket, then drops the connection. */
async function cutUpload (port: number, token: string, body: Buffer, sendBytes: number, range: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`PUT ${URL_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nContent-Range: ${range}\r\n` +
        `X-Checksum-SHA256: ${sha}\r\n\r\n`)
      s.write(body.subarray(0, sendBytes), () => { setTimeout(() => { s.destroy(); resolve() }, 50) })
    })
    s.on('error', reject)
  })
}

async function heldBytes (h: Harness, port: number, token: string, atLeast: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const r = await fetch(`http://127.0.0.1:${port}${URL_PATH}`, { method: 'HEAD', headers: auth(token) })
    const off = Number(r.headers.get('upload-offset'))
    if (off >= atLeast) return off
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error('server never reported the bytes it received')
}

t.test('connection cut halfway, then resumed → one correct image', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (h.app.server.address() as AddressInfo).port
  const half = Math.floor(wim.length / 2)
  await cutUpload(port, token, wim, half, `bytes 0-${wim.length - 1}/${wim.length}`)
  const off = await heldBytes(h, port, token, 1)
  t.ok(off > 0 && off <= half, `server kept ${off} of the ${half} bytes sent`)
  await nothingStored(t, h)
  // Resume from where the server is, as capture.sh does after a HEAD.
  const r = await fetch(`http://127.0.0.1:${port}${URL_PATH}`, {
    method: 'PUT', body: wim.subarray(off),
    headers: { ...auth(token), 'content-type': 'application/octet-stream', 'content-range': `bytes ${off}-${wim.length - 1}/${wim.length}`, 'x-checksum-sha256': sha }
  })
  t.equal(r.status, 201, await r.clone().text())
  const e = await h.ctx.store.images.get('ref-win')
  t.equal(e?.sha256, sha)
  t.same(await readFile(join(h.cfg.paths.images, 'ref-win.wim')), wim, 'byte-identical')
  t.equal((await h.ctx.store.images.list()).length, 1, 'exactly one image')
})

t.test('a resume while the old connection still hangs open takes over from it', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const port = (h.app.server.address() as AddressInfo).port
  // A client that sent 1.2 MB and then went silent without closing (a half-open TCP connection). The server
  // writes in batches of 1 MiB, so it reports at least 1 MiB while the rest waits in its buffer.
  const stale = connect(port, '127.0.0.1')
  t.teardown(() => { stale.destroy() })
  await new Promise<void>(resolve => stale.on('connect', resolve))
  stale.on('error', () => {})
  stale.write(`PUT ${URL_PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/octet-stream\r\n` +
    `Content-Length: ${wim.length}\r\nContent-Range: bytes 0-${wim.length - 1}/${wim.length}\r\nX-Checksum-SHA256: ${sha}\r\n\r\n`)
  stale.write(wim.subarray(0, 1_200_000))
  const off = await heldBytes(h, port, token, 1024 * 1024)
  const closed = new Promise<void>(resolve => stale.on('close', () => resolve()))
  const r = await fetch(`http://127.0.0.1:${port}${URL_PATH}`, {
    method: 'PUT', body: wim.subarray(off),
    headers: { ...auth(token), 'content-type': 'application/octet-stream', 'content-range': `bytes ${off}-${wim.length - 1}/${wim.length}`, 'x-checksum-sha256': sha }
  })
  t.equal(r.status, 201, await r.clone().text())
  await closed
  t.pass('the stale connection was closed by the server')
  t.same(await readFile(join(h.cfg.paths.images, 'ref-win.wim')), wim, 'byte-identical')
})

t.test('streamed in chunks with the total unknown until the last one; a stale resume point is refused', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  const a = 100_000
  const b = 200_000
  let r = await put(h, token, wim.subarray(0, a), { 'content-range': `bytes 0-${a - 1}/*` })
  t.equal(r.statusCode, 200)
  t.same(r.json(), { imageId: 'ref-win', offset: a, complete: false })
  r = await put(h, token, wim.subarray(b), { 'content-range': `bytes ${b}-${wim.length - 1}/${wim.length}`, 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 416, 'a gap is refused')
  t.equal(r.headers['upload-offset'], String(a), 'and the server says where to resume')
  r = await put(h, token, wim.subarray(a, b), { 'content-range': `bytes ${a}-${b - 1}/*` })
  t.equal(r.json().offset, b)
  r = await put(h, token, wim.subarray(b), { 'content-range': `bytes ${b}-${wim.length - 1}/${wim.length}`, 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 201, r.body)
  t.equal(r.json().image.sha256, sha)
})

t.test('an upload resumed by a restarted daemon is verified from the bytes on disk', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  const a = 150_000
  let r = await put(h, token, wim.subarray(0, a), { 'content-range': `bytes 0-${a - 1}/${wim.length}` })
  t.equal(r.statusCode, 200)
  await h.app.close()
  const app2 = await buildHttpApp(h.ctx)
  t.teardown(() => app2.close())
  r = await app2.inject({
    method: 'PUT', url: URL_PATH, payload: wim.subarray(a),
    headers: { ...auth(token), 'content-type': 'application/octet-stream', 'content-range': `bytes ${a}-${wim.length - 1}/${wim.length}`, 'x-checksum-sha256': sha }
  })
  t.equal(r.statusCode, 201, r.body)
  t.equal(r.json().image.sha256, sha)
  // And a wrong byte in the stored prefix is caught the same way.
  const h2 = await makeHarness(t)
  const tok2 = await h2.token('adv-capture')
  await put(h2, tok2, wim.subarray(0, a), { 'content-range': `bytes 0-${a - 1}/${wim.length}` })
  const part = join(h2.cfg.paths.state, 'uploads', 'ref-win.part')
  const b = await readFile(part)
  b[1000] ^= 1
  await writeFile(part, b)
  await h2.app.close()
  const app3 = await buildHttpApp(h2.ctx)
  t.teardown(() => app3.close())
  r = await app3.inject({
    method: 'PUT', url: URL_PATH, payload: wim.subarray(a),
    headers: { ...auth(tok2), 'content-type': 'application/octet-stream', 'content-range': `bytes ${a}-${wim.length - 1}/${wim.length}`, 'x-checksum-sha256': sha }
  })
  t.equal(r.statusCode, 422)
  t.equal(r.json().code, 'NB_ERR_IMAGE_CHECKSUM')
})

t.test('cut and abandoned → nothing in the catalog, temp files deleted by the sweep on start', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  const r = await put(h, token, wim.subarray(0, 50_000), { 'content-range': `bytes 0-49999/${wim.length}`, 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 200)
  const up = join(h.cfg.paths.state, 'uploads')
  t.same((await readdir(up)).sort(), ['ref-win.json', 'ref-win.part'])
  await nothingStored(t, h)
  // A restart one hour later keeps it (expiry is 2 h in the test config) …
  h.ctx.clock.advance(3600_000)
  const app2 = await buildHttpApp(h.ctx)
  await app2.ready()
  await app2.close()
  t.same((await readdir(up)).sort(), ['ref-win.json', 'ref-win.part'], 'young upload kept')
  // … three hours later, the sweep at start deletes it.
  h.ctx.clock.advance(2 * 3600_000)
  const app3 = await buildHttpApp(h.ctx)
  await app3.ready()
  await app3.close()
  t.same(await readdir(up), [], 'abandoned upload swept')
  await nothingStored(t, h)
})

t.test('wrong checksum → 422, nothing catalogued, upload discarded', async t => {
  const h = await makeHarness(t)
  const token = await h.token('adv-capture')
  const r = await put(h, token, wim, { 'x-checksum-sha256': 'b'.repeat(64) })
  t.equal(r.statusCode, 422)
  t.equal(r.json().code, 'NB_ERR_IMAGE_CHECKSUM')
  t.match(r.json().message, /start over/)
  await nothingStored(t, h)
  t.same(await readdir(join(h.cfg.paths.state, 'uploads')), [])
  const last = await put(h, token, wim, {})
  t.equal(last.statusCode, 409, 'complete without any checksum: refused')
  t.equal(last.json().code, 'NB_ERR_UPLOAD_STATE')
  await nothingStored(t, h)
})

t.test('not a WIM (checksum right) → 422 NB_ERR_WIM_BAD_MAGIC, nothing catalogued', async t => {
  const h = await makeHarness(t)
  const junk = randomBytes(5000)
  const r = await put(h, await h.token('adv-capture'), junk, { 'x-checksum-sha256': createHash('sha256').update(junk).digest('hex') })
  t.equal(r.statusCode, 422)
  t.equal(r.json().code, 'NB_ERR_WIM_BAD_MAGIC')
  await nothingStored(t, h)
  t.same(await readdir(join(h.cfg.paths.state, 'uploads')), [])
})

t.test('who may upload', async t => {
  const h = await makeHarness(t)
  let r = await put(h, 'not-a-token', wim, { 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 401, 'unknown token')
  r = await h.app.inject({ method: 'PUT', url: URL_PATH, payload: wim, headers: { 'content-type': 'application/octet-stream' } })
  t.equal(r.statusCode, 401, 'no token')
  r = await put(h, await h.token('adv-deploy'), wim, { 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 403, 'deployment without a capture step for ref-win')
  t.match(r.json().message, /no capture step for image ref-win/)
  r = await put(h, await h.token('adv-capture'), wim, { 'x-checksum-sha256': sha }, '/pe/v1/capture/other-id')
  t.equal(r.statusCode, 403, 'capture step exists, but for another image')
  await nothingStored(t, h)
  r = await put(h, CAPTURE_TOKEN, wim, { 'x-checksum-sha256': sha }, '/pe/v1/capture/media-1')
  t.equal(r.statusCode, 201, 'the capture-media token may upload any id')
  t.ok(await h.ctx.store.images.get('media-1'))
  const head = await h.app.inject({ method: 'HEAD', url: '/pe/v1/capture/media-1', headers: { ...auth(CAPTURE_TOKEN), 'x-checksum-sha256': sha } })
  t.equal(head.statusCode, 200, 'HEAD with the capture token')
  t.equal(head.headers['upload-complete'], '1')
  r = await put(h, CAPTURE_TOKEN, wim, {}, '/pe/v1/capture/..%2Fetc')
  t.equal(r.statusCode, 400, 'bad image id')
})

t.test('disk full → 507 with a clear message, nothing stored', async t => {
  const dir = join(h0.dir, 'full')
  await mkdir(dir)
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'nbi-tmpfs', dir])
  } catch (err) {
    t.pass(`SKIPPED: cannot mount a tmpfs here (needs root): ${String(err)}`)
    return
  }
  t.teardown(() => { execFileSync('umount', [dir]); return rm(dir, { recursive: true, force: true }) })
  const h = await makeHarness(t, { dir })
  const token = await h.token('adv-capture')
  const total = 5 * 1024 * 1024
  let r = await put(h, token, wim.subarray(0, 1000), { 'content-range': `bytes 0-999/${total}`, 'x-checksum-sha256': sha })
  t.equal(r.statusCode, 507)
  t.equal(r.json().code, 'NB_ERR_DISK_FULL')
  t.match(r.json().message, /not enough free space in .*uploads: 5\.0 MiB needed/)
  // Streamed with the total unknown: a chunk that cannot fit is refused up front as well.
  const big = randomBytes(2 * 1024 * 1024)
  r = await put(h, token, big, { 'content-range': `bytes 0-${big.length - 1}/*` })
  t.equal(r.statusCode, 507)
  await nothingStored(t, h)
  t.same(await readdir(join(dir, 'state', 'uploads')), [])
})
