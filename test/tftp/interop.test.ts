// Real clients against the server on a random loopback port: atftp (blksize, windowsize), tftp-hpa, curl and
// busybox tftp. Every download is compared by sha256; tsize, block rollover and the EDK2 probe are checked too.
import t from 'tap'
import { readFile, mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { sha256, tempRoot, fixture, startServer, run, tftpGet } from './helpers.js'
import { encodeRequest, OP, encodeError } from '../../src/tftp/packet.js'
import dgram from 'node:dgram'

const root = await tempRoot(t)
const out = join(root, 'out')
await mkdir(out)
const files = {
  'undionly.kpxe': await fixture(root, 'undionly.kpxe', 70 * 1024 + 13),
  'ipxe.efi': await fixture(root, 'ipxe.efi', 1024 * 1024 + 7),
  'empty.bin': await fixture(root, 'empty.bin', 0),
  'exact.bin': await fixture(root, 'exact.bin', 512 * 64)
}
const { port, logs } = await startServer(t, root)

interface Client { name: string, args: (file: string, dest: string) => [string, string[]] }
const clients: Client[] = [
  { name: 'tftp-hpa', args: (f, d) => ['tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', f, d]] },
  { name: 'curl blksize 1468', args: (f, d) => ['curl', ['-sS', '-o', d, '--tftp-blksize', '1468', `tftp://127.0.0.1:${port}/${f}`]] },
  { name: 'curl blksize 512', args: (f, d) => ['curl', ['-sS', '-o', d, `tftp://127.0.0.1:${port}/${f}`]] },
  { name: 'busybox tftp', args: (f, d) => ['busybox', ['tftp', '-g', '-r', f, '-l', d, '127.0.0.1', String(port)]] },
  { name: 'busybox tftp -b 1468', args: (f, d) => ['busybox', ['tftp', '-g', '-b', '1468', '-r', f, '-l', d, '127.0.0.1', String(port)]] },
  { name: 'atftp blksize 1468', args: (f, d) => ['atftp', ['-g', '-r', f, '-l', d, '--option', 'blksize 1468', '127.0.0.1', String(port)]] },
  { name: 'atftp windowsize 16', args: (f, d) => ['atftp', ['-g', '-r', f, '-l', d, '--option', 'blksize 1468', '--option', 'windowsize 16', '127.0.0.1', String(port)]] },
  { name: 'atftp windowsize 4 blksize 512', args: (f, d) => ['atftp', ['-g', '-r', f, '-l', d, '--option', 'windowsize 4', '127.0.0.1', String(port)]] }
]

let n = 0
for (const c of clients) {
  for (const [file, data] of Object.entries(files)) {
    // curl writes nothing for an empty download unless the file is created: compare what exists.
    t.test(`${c.name} gets ${file} (${data.length} bytes)`, async t => {
      const dest = join(out, `${n++}-${file}`)
      const [cmd, args] = c.args(file, dest)
      const r = await run(cmd, args)
      t.equal(r.code, 0, `${cmd} exit status (stderr: ${r.stderr.trim()})`)
      const got = await readFile(dest).catch(() => Buffer.alloc(0))
      t.equal(sha256(got), sha256(data), 'sha256 matches')
    })
  }
}

t.test('missing file: the client reports ERROR 1', async t => {
  const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'nope.efi', join(out, 'nope')])
  t.match(r.stdout + r.stderr, /Error code 1: file not found/)
  const c = await run('curl', ['-sS', '-o', join(out, 'nope2'), `tftp://127.0.0.1:${port}/nope.efi`])
  t.equal(c.code, 68, 'curl exit 68 = CURLE_TFTP_NOTFOUND (curl 7.88 prints a misleading getpeername message)')
})

t.test('write requests are refused with ERROR 2 and a clear message', async t => {
  const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'put', join(root, 'ipxe.efi'), 'upload.efi'])
  t.match(r.stdout + r.stderr, /Error code 2: this TFTP server is read-only/)
})

t.test('tsize reports the file size (RFC 2349)', async t => {
  const r = await tftpGet(port, 'ipxe.efi', { options: { tsize: '0', blksize: '1468' } })
  t.same(r.oack, { tsize: String(files['ipxe.efi'].length), blksize: '1468' })
  t.equal(sha256(r.data!), sha256(files['ipxe.efi']))
  const v = await run('atftp', ['--trace', '-g', '-r', 'ipxe.efi', '-l', join(out, 'tsize'), '--option', 'tsize 0', '127.0.0.1', String(port)])
  t.match(v.stdout + v.stderr, new RegExp(`received OACK <tsize: ${files['ipxe.efi'].length}`), 'atftp sees the size in the OACK')
})

t.test('EDK2/OVMF tsize probe: OACK, client ERROR 8, then the real download; the probe ends at info level', async t => {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>(resolve => sock.bind(0, '127.0.0.1', resolve))
  const oack = await new Promise<Buffer>(resolve => {
    sock.once('message', (msg, rinfo) => {
      sock.send(encodeError(8, 'User aborted the transfer'), rinfo.port, rinfo.address)
      resolve(msg)
    })
    sock.send(encodeRequest(OP.RRQ, 'ipxe.efi', 'octet', { tsize: '0' }), port, '127.0.0.1')
  })
  sock.close()
  t.equal(oack.readUInt16BE(0), OP.OACK)
  const r = await tftpGet(port, 'ipxe.efi', { options: { blksize: '1468' } })
  t.equal(sha256(r.data!), sha256(files['ipxe.efi']))
  await new Promise(resolve => setTimeout(resolve, 50))
  const probe = logs.find(l => l.result === 'option-refused')
  t.ok(probe, 'the probe was logged as option-refused')
  t.equal(probe?.level, 30, 'at info, not warn')
})

t.test('block number rollover: a 33 MiB file at blksize 512 through tftp-hpa (65536+ blocks)', async t => {
  const big = await fixture(root, 'big.wim', 33 * 1024 * 1024 + 123)
  const dest = join(out, 'big.wim')
  const r = await run('tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'big.wim', dest], 120000)
  t.equal(r.code, 0, r.stderr)
  t.equal(sha256(await readFile(dest)), sha256(big), 'sha256 of the 33 MiB file')
  const end = logs.find(l => l.msg === 'tftp transfer end' && l.file === 'big.wim')
  t.match(end, { result: 'ok', from: 'disk', bytes: big.length }, 'streamed from disk, not cached')
})

t.test('the default root /usr/lib/ipxe: ipxe.efi (a link to /boot/ipxe.efi, named in bootLoaders) and undionly.kpxe', { skip: !existsSync('/usr/lib/ipxe/undionly.kpxe') }, async t => {
  const debian = await startServer(t, '/usr/lib/ipxe')
  for (const f of ['ipxe.efi', 'undionly.kpxe', 'snponly.efi']) {
    const dest = join(out, `debian-${f}`)
    const r = await run('curl', ['-sS', '-o', dest, '--tftp-blksize', '1468', `tftp://127.0.0.1:${debian.port}/${f}`])
    t.equal(r.code, 0, `${f}: ${r.stderr}`)
    t.equal(sha256(await readFile(dest)), sha256(await readFile(join('/usr/lib/ipxe', f))), `${f} sha256`)
  }
  const lkrn = await tftpGet(debian.port, 'ipxe.lkrn')
  t.equal(lkrn.error?.code, 2, 'a link out that the config does not name stays refused')
})
