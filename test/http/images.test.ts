// WIM streaming: validators and ranges as a matrix through inject(), then resume with the real curl client.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { readFile, stat, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeLab, type Lab } from './helpers.js'
import { createService } from '../../src/http/service.js'

const run = promisify(execFile)
const SIZE = 3 * 1024 * 1024 + 17
const data = randomBytes(SIZE)
const sha = createHash('sha256').update(data).digest('hex')
const ETAG = `"sha256-${sha}"`
const MTIME = new Date('2026-02-03T04:05:06Z')

async function withImages (t: { teardown (fn: () => unknown): void }): Promise<Lab> {
  const lab = await makeLab(t, 'images:\n  - {id: cfgonly, file: cfgonly.wim}\n')
  await writeFile(join(lab.dirs.images, 'win11.wim'), data)
  await writeFile(join(lab.dirs.images, 'cfgonly.wim'), data.subarray(0, 1000))
  await utimes(join(lab.dirs.images, 'cfgonly.wim'), MTIME, MTIME)
  await lab.ctx.store.images.put({ id: 'win11', file: 'win11.wim', size: SIZE, sha256: sha, addedAt: '2026-01-01T00:00:00Z', wim: {} })
  await lab.ctx.store.images.put({ id: 'escape', file: '../state/secret', size: 1, sha256: 'x', addedAt: '2026-01-01T00:00:00Z', wim: {} })
  await writeFile(join(lab.dirs.state, 'secret'), 'secret')
  return lab
}

t.test('GET and HEAD of a catalogued image: length, checksum, strong ETag from its SHA-256', async t => {
  const lab = await withImages(t)
  const r = await lab.app.inject({ url: '/images/win11' })
  t.equal(r.statusCode, 200)
  t.equal(r.headers['content-length'], String(SIZE))
  t.equal(r.headers['accept-ranges'], 'bytes')
  t.equal(r.headers.etag, ETAG)
  t.equal(r.headers['x-checksum-sha256'], sha)
  t.equal(r.headers['content-type'], 'application/octet-stream')
  t.ok(r.rawPayload.equals(data), 'body is the file')
  const h = await lab.app.inject({ method: 'HEAD', url: '/images/win11' })
  t.equal(h.statusCode, 200)
  t.equal(h.headers['content-length'], String(SIZE))
  t.equal(h.headers.etag, ETAG)
  t.equal(h.rawPayload.length, 0, 'HEAD has no body')
  const alias = await lab.app.inject({ method: 'HEAD', url: '/images/win11.wim' })
  t.equal(alias.headers.etag, ETAG, '/images/<id>.wim names the same image')
})

t.test('an image known only from the config is served with a size-mtime ETag and no checksum', async t => {
  const lab = await withImages(t)
  const r = await lab.app.inject({ url: '/images/cfgonly' })
  t.equal(r.statusCode, 200)
  t.equal(r.headers.etag, `"${(1000).toString(16)}-${MTIME.getTime().toString(16)}"`)
  t.equal(r.headers['x-checksum-sha256'], undefined)
  t.equal(r.headers['last-modified'], MTIME.toUTCString())
  t.ok(r.rawPayload.equals(data.subarray(0, 1000)))
})

t.test('Range / If-Range / If-None-Match matrix', async t => {
  const lab = await withImages(t)
  const lm = (await stat(join(lab.dirs.images, 'win11.wim'))).mtime.toUTCString()
  const cases: Array<{ h: Record<string, string>, status: number, range?: [number, number], cr?: string, method?: 'GET' | 'HEAD' }> = [
    { h: { range: 'bytes=0-99' }, status: 206, range: [0, 99] },
    { h: { range: 'bytes=1048576-' }, status: 206, range: [1048576, SIZE - 1] },
    { h: { range: 'bytes=-100' }, status: 206, range: [SIZE - 100, SIZE - 1] },
    { h: { range: `bytes=${SIZE - 10}-${SIZE + 1000}` }, status: 206, range: [SIZE - 10, SIZE - 1] },
    { h: { range: 'bytes=0-99', 'if-range': ETAG }, status: 206, range: [0, 99] },
    { h: { range: 'bytes=0-99', 'if-range': '"sha256-old"' }, status: 200 },
    { h: { range: 'bytes=0-99', 'if-range': lm }, status: 206, range: [0, 99] },
    { h: { range: 'bytes=0-99', 'if-range': 'Mon, 01 Jan 2024 00:00:00 GMT' }, status: 200 },
    { h: { range: 'bytes=0-1,5-9' }, status: 200 },
    { h: { range: `bytes=${SIZE}-` }, status: 416, cr: `bytes */${SIZE}` },
    { h: { range: 'bytes=-0' }, status: 416, cr: `bytes */${SIZE}` },
    { h: { 'if-none-match': ETAG }, status: 304 },
    { h: { 'if-none-match': '"other"' }, status: 200 },
    { h: { range: 'bytes=10-19' }, status: 206, range: [10, 19], method: 'HEAD' }
  ]
  for (const c of cases) {
    const name = `${c.method ?? 'GET'} ${JSON.stringify(c.h)}`
    const r = await lab.app.inject({ method: c.method ?? 'GET', url: '/images/win11', headers: c.h })
    t.equal(r.statusCode, c.status, name)
    if (c.status === 206 && c.range !== undefined) {
      const [a, b] = c.range
      t.equal(r.headers['content-range'], `bytes ${a}-${b}/${SIZE}`, name)
      t.equal(r.headers['content-length'], String(b - a + 1), name)
      if (c.method !== 'HEAD') t.ok(r.rawPayload.equals(data.subarray(a, b + 1)), `${name} body`)
    }
    if (c.status === 200) t.ok(r.rawPayload.equals(data), `${name}: whole file`)
    if (c.status === 416) {
      t.equal(r.headers['content-range'], c.cr, name)
      t.equal(r.json().code, 'NB_ERR_HTTP_RANGE', name)
    }
    if (c.status === 304) t.equal(r.rawPayload.length, 0, name)
  }
})

t.test('unknown ids and catalogue entries pointing out of the store are refused', async t => {
  const lab = await withImages(t)
  const nf = await lab.app.inject({ url: '/images/nope' })
  t.equal(nf.statusCode, 404)
  t.match(nf.json(), { code: 'NB_ERR_HTTP_NO_FILE', message: 'no image nope in the catalog or the config (netboot images list)' })
  t.equal((await lab.app.inject({ url: '/images/%2e%2e%2fstate%2fsecret' })).statusCode, 404)
  const esc = await lab.app.inject({ url: '/images/escape' })
  t.equal(esc.statusCode, 400)
  t.equal(esc.json().code, 'NB_ERR_HTTP_BAD_PATH')
  t.notMatch(esc.body, 'secret\n')
})

t.test('curl resumes an interrupted download with --continue-at - against a listening server', async t => {
  const lab = await withImages(t)
  const svc = createService(lab.ctx)
  if (svc === undefined) throw new Error('http disabled')
  await svc.start()
  t.teardown(async () => await svc.stop())
  const url = `http://127.0.0.1:${svc.port()}/images/win11`
  const out = join(lab.dir, 'download.wim')
  await writeFile(out, data.subarray(0, 1234567))                  // what an interrupted download left
  const { stdout } = await run('curl', ['-sS', '--fail', '--continue-at', '-', '-o', out, '-w', '%{http_code} %{size_download}', url])
  t.equal(stdout, `206 ${SIZE - 1234567}`, 'only the rest was transferred')
  const got = await readFile(out)
  t.equal(createHash('sha256').update(got).digest('hex'), sha, 'the resumed file is whole')
  const head = await run('curl', ['-sS', '--fail', '-I', url])
  t.match(head.stdout, new RegExp(`content-length: ${SIZE}\\r\\n`, 'i'))
  t.match(head.stdout, `x-checksum-sha256: ${sha}`)
})
