// Boot files over HTTP, and a table of hostile paths on every file route — sent as-is by the real curl to a
// listening server (inject() would normalize `..` before the router sees it) and through inject() too.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { mkdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeLab, type Lab } from './helpers.js'
import { createService } from '../../src/http/service.js'

const run = promisify(execFile)
const SECRET = 'TOP-SECRET-CONTENT'

async function withFiles (t: { teardown (fn: () => unknown): void }): Promise<Lab> {
  const lab = await makeLab(t, '', { winpe: true })
  const { tftp, pe, winpe, files, state } = lab.dirs
  await writeFile(join(lab.dir, 'secret.txt'), SECRET)
  await writeFile(join(state, 'secret.txt'), SECRET)
  await writeFile(join(tftp, 'undionly.kpxe'), 'bios loader')
  await mkdir(join(tftp, 'sub'))
  await writeFile(join(tftp, 'sub', 'x.efi'), 'efi loader')
  await symlink(join(tftp, 'sub', 'x.efi'), join(tftp, 'inner-link'))
  await writeFile(join(lab.dir, 'boot-ipxe.efi'), 'efi loader outside')
  await symlink(join(lab.dir, 'boot-ipxe.efi'), join(tftp, 'ipxe.efi'))      // as Debian's ipxe package does
  await writeFile(join(pe, 'vmlinuz'), 'kernel')
  await writeFile(join(pe, 'initrd.img'), 'initrd')
  await mkdir(join(pe, 'arm64'))
  await writeFile(join(pe, 'arm64', 'vmlinuz'), 'arm64 kernel')
  await writeFile(join(pe, 'arm64', 'initrd.img'), 'arm64 initrd')
  await writeFile(join(winpe, 'BCD'), 'bcd')
  await mkdir(join(files, 'drivers'))
  await writeFile(join(files, 'drivers', 'net.inf'), 'inf')
  for (const d of [tftp, winpe, files]) {
    await symlink(join(lab.dir, 'secret.txt'), join(d, 'link-out'))
    await symlink(lab.dir, join(d, 'dir-out'))
  }
  return lab
}

t.test('files are served from their roots with ETag and Range', async t => {
  const lab = await withFiles(t)
  const table: Array<[string, string]> = [
    ['/loaders/undionly.kpxe', 'bios loader'], ['/loaders/sub/x.efi', 'efi loader'], ['/loaders/inner-link', 'efi loader'],
    ['/loaders/ipxe.efi', 'efi loader outside'],                  // named in bootLoaders: its link is followed
    ['/pe/vmlinuz', 'kernel'], ['/pe/initrd.img', 'initrd'], ['/pe/arm64/vmlinuz', 'arm64 kernel'], ['/pe/arm64/initrd.img', 'arm64 initrd'],
    ['/winpe/BCD', 'bcd'], ['/files/drivers/net.inf', 'inf']
  ]
  for (const [url, body] of table) {
    const r = await lab.app.inject({ url })
    t.equal(r.statusCode, 200, url)
    t.equal(r.body, body, url)
    t.match(r.headers.etag, /^"[0-9a-f]+-[0-9a-f]+"$/, url)
    const p = await lab.app.inject({ url, headers: { range: 'bytes=1-2' } })
    t.equal(p.statusCode, 206, `${url} range`)
    t.equal(p.body, body.slice(1, 3), `${url} range`)
  }
})

t.test('missing PE and WinPE files say what to do', async t => {
  const lab = await makeLab(t, '', { pe: false })
  const r = await lab.app.inject({ url: '/pe/initrd.img' })
  t.equal(r.statusCode, 404)
  t.same(r.json(), { code: 'NB_ERR_HTTP_NO_FILE', message: 'no file initrd.img in the amd64 PE directory: run `netboot pe build` (or set paths.pe)' })
  const a = await lab.app.inject({ url: '/pe/arm64/vmlinuz' })
  t.equal(a.statusCode, 404)
  t.same(a.json(), { code: 'NB_ERR_HTTP_NO_FILE', message: 'no file vmlinuz in the arm64 PE directory: run `netboot pe build --arch arm64` (or set paths.pe)' })
  const w = await lab.app.inject({ url: '/winpe/wimboot' })
  t.equal(w.statusCode, 404)
  t.match(w.json().message, 'WinPE is not configured: set paths.winpe')
})

// Everything after the route prefix, exactly as it goes on the wire.
const HOSTILE = [
  '../secret.txt', '../../secret.txt', '%2e%2e/secret.txt', '%2E%2E%2Fsecret.txt', '..%2fsecret.txt', '.%2e/secret.txt',
  'sub/../../secret.txt', 'sub/%2e%2e/%2e%2e/secret.txt', '..%5csecret.txt', 'sub%5c..%5c..%5csecret.txt', '..\\secret.txt',
  '%00', 'undionly.kpxe%00.txt', '%2fetc%2fpasswd', '/etc/passwd', '%2F' + 'etc/passwd', 'link-out', 'dir-out/secret.txt',
  '%252e%252e/secret.txt', 'C:%5cWindows%5cwin.ini', 'sub/', './undionly.kpxe', 'sub//x.efi', '', '..', '%2e', '....//secret.txt'
]
const PREFIXES = ['/loaders/', '/winpe/', '/files/', '/pe/', '/images/']

t.test('hostile paths never leave a root (real curl, --path-as-is)', async t => {
  const lab = await withFiles(t)
  const svc = createService(lab.ctx)
  if (svc === undefined) throw new Error('http disabled')
  await svc.start()
  t.teardown(async () => await svc.stop())
  const base = `http://127.0.0.1:${svc.port()}`
  for (const prefix of PREFIXES) {
    for (const h of HOSTILE) {
      const url = base + prefix + h
      const { stdout } = await run('curl', ['-s', '--path-as-is', '-o', '-', '-w', '\n%{http_code}', url])
      const status = Number(stdout.slice(stdout.lastIndexOf('\n') + 1))
      const body = stdout.slice(0, stdout.lastIndexOf('\n'))
      t.ok(status === 400 || status === 404, `${prefix}${h} → ${status}`)
      t.notMatch(body, SECRET, `${prefix}${h} leaks nothing`)
      t.notMatch(body, 'root:', `${prefix}${h} leaks nothing`)
    }
  }
})

t.test('hostile paths through inject()', async t => {
  const lab = await withFiles(t)
  for (const prefix of PREFIXES) {
    // inject() resolves `./x` to `x` as a browser would, a legitimate file: only the raw curl test sees it
    for (const h of HOSTILE.filter(h => h !== './undionly.kpxe')) {
      const r = await lab.app.inject({ url: prefix + h })
      t.ok(r.statusCode === 400 || r.statusCode === 404, `${prefix}${h} → ${r.statusCode}`)
      t.notMatch(r.body, SECRET)
    }
  }
})
