// A boot storm: 200 clients download a loader-sized file (~1 MiB) at once, all intact; plus the same through
// spawned real clients in a smaller batch. Memory: the file is served from one cached buffer.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempRoot, fixture, startServer, tftpGet, sha256, run } from './helpers.js'

const root = await tempRoot(t)
const loader = await fixture(root, 'snponly.efi', 1024 * 1024 + 333)
const want = sha256(loader)
const { port, service, logs } = await startServer(t, root)

t.test('200 concurrent downloads with our own client, mixed options', async t => {
  // UEFI-like (1468, tsize), windowed (bootmgr-like), big blocks; 512-byte lockstep is covered by the interop test.
  const variants: Array<Record<string, string>> = [{ blksize: '1468', tsize: '0' }, { blksize: '1468', windowsize: '8' }, { blksize: '8192', tsize: '0' }, { blksize: '1456', windowsize: '4' }]
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    tftpGet(port, 'snponly.efi', { options: variants[i % variants.length], idleMs: 10000 })))
  const ok = results.filter(r => r.data !== undefined && sha256(r.data) === want).length
  t.equal(ok, 200, 'all 200 downloads intact')
  // The client is done when it sent its last ACK; give the server a moment to read it.
  for (let i = 0; i < 50 && service.server.active > 0; i++) await new Promise(resolve => setTimeout(resolve, 20))
  t.equal(service.server.active, 0, 'every slot released')
  const ends = logs.filter(l => l.msg === 'tftp transfer end')
  t.equal(ends.filter(l => l.result === 'ok').length, 200)
  t.ok(ends.every(l => l.from === 'cache'), 'served from the cache')
  t.equal(service.server.cache.size.entries, 1, 'one cached copy')
})

t.test('40 concurrent real clients (tftp-hpa, curl, atftp windowsize)', async t => {
  const jobs = Array.from({ length: 40 }, async (_, i) => {
    const dest = join(root, `out-${i}`)
    const [cmd, args] = i % 3 === 0
      ? ['tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'snponly.efi', dest]]
      : i % 3 === 1
        ? ['curl', ['-sS', '-o', dest, '--tftp-blksize', '1468', `tftp://127.0.0.1:${port}/snponly.efi`]]
        : ['atftp', ['-g', '-r', 'snponly.efi', '-l', dest, '--option', 'blksize 1468', '--option', 'windowsize 16', '127.0.0.1', String(port)]]
    const r = await run(cmd as string, args as string[], 120000)
    const good = r.code === 0 && sha256(await readFile(dest).catch(() => Buffer.alloc(0))) === want
    if (!good) t.comment(`${cmd} failed: exit ${r.code} ${r.stderr.trim()} ${r.stdout.trim()}`)
    return good
  })
  const ok = (await Promise.all(jobs)).filter(Boolean).length
  t.equal(ok, 40)
})
