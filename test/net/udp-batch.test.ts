// native/udp-batch through src/net/udp-batch.ts, on loopback, against Node's dgram as the peer: every datagram
// arrives whole with its source, in batches, in a Buffer of its own; replies go out; errors carry errno codes as
// dgram's would; a worker thread that ends with a socket open gives its port back.
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import { Worker } from 'node:worker_threads'
import { spawnSync } from 'node:child_process'
import { loadUdpBatch, BatchUdpSocket, ipv4ToInt32, int32ToIpv4, type BatchHandlers, type UdpBatchBinding } from '../../src/net/udp-batch.js'

const loaded = loadUdpBatch()

t.test('the addon is built and loads (npm run build builds it)', async t => {
  t.equal(loaded.reason, undefined, 'no reason to fall back')
  t.ok(loaded.binding, 'binding loaded')
  t.ok((loaded.binding?.BATCH ?? 0) > 1, 'reads more than one datagram per call')
})

const binding = loaded.binding as UdpBatchBinding

/** Handlers that fail the test when anything but a datagram arrives. */
const quiet = (t: Test): BatchHandlers => ({
  datagram: () => {},
  truncated: () => t.fail('nothing is truncated'),
  dropped: (n) => t.fail(`the kernel dropped ${n}`),
  error: (err) => t.fail(String(err))
})
const ignore: BatchHandlers = { datagram: () => {}, truncated: () => {}, dropped: () => {}, error: () => {} }

async function client (): Promise<dgram.Socket> {
  const c = dgram.createSocket('udp4')
  await new Promise<void>(resolve => c.bind(0, '127.0.0.1', () => resolve()))
  return c
}

t.test('dotted quads to and from host-order integers', async t => {
  t.equal(ipv4ToInt32('10.99.0.2'), (10 << 24) + (99 << 16) + 2)
  t.equal(ipv4ToInt32('255.255.255.255'), -1, 'signed: every address a small integer to V8')
  t.equal(ipv4ToInt32('192.168.1.254'), (0xc0a801fe | 0))
  t.equal(int32ToIpv4(0xc0a801fe), '192.168.1.254', 'unsigned input reads the same')
  t.equal(ipv4ToInt32('0.0.0.0'), 0)
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '1.2.3.', 'a.b.c.d', '1.2.3.1234', ' 1.2.3.4']) t.equal(ipv4ToInt32(bad), undefined, `'${bad}'`)
  for (const ip of ['127.0.0.1', '10.99.0.2', '255.255.255.255', '0.0.0.0', '192.168.1.254']) t.equal(int32ToIpv4(ipv4ToInt32(ip) as number), ip)
})

t.test('a burst arrives whole, in order, with its source, several datagrams per batch; each Buffer stays intact', async t => {
  const got: Array<{ msg: Buffer, address: string, port: number }> = []
  // Microtasks run when a batch's call into JS returns (napi_make_callback): one per delivery counts the batches.
  let batches = 0
  let counting = false
  const sock = BatchUdpSocket.open(binding, '127.0.0.1', 0, 1 << 20, {
    ...quiet(t),
    datagram: (msg, address, port) => {
      got.push({ msg, address, port })
      if (!counting) { counting = true; queueMicrotask(() => { counting = false; batches++ }) }
    }
  })
  t.teardown(() => sock.close())
  const c = await client()
  t.teardown(() => c.close())
  const N = 500
  const sizes = (i: number): number => 2 + (i * 37) % 1400
  const datagram = (i: number): Buffer => { const b = Buffer.alloc(sizes(i), i & 255); b.writeUInt16BE(i, 0); return b }
  for (let i = 0; i < N; i++) c.send(datagram(i), sock.port() as number, '127.0.0.1')
  const deadline = Date.now() + 5000
  while (got.length < N && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(got.length, N, 'every datagram arrived')
  t.ok(batches < N, `fewer deliveries than datagrams (${batches} for ${N})`)
  let intact = 0
  for (const [i, g] of got.entries()) {
    if (g.msg.equals(datagram(i)) && g.address === '127.0.0.1' && g.port === c.address().port) intact++
  }
  t.equal(intact, N, 'bytes, source address and port of each, in order, after later batches reused the slots')
})

t.test('replies go to the address and port given; a truncated datagram is reported, not delivered', async t => {
  const truncated: string[] = []
  const sock = BatchUdpSocket.open(binding, '127.0.0.1', 0, 1 << 20, {
    ...quiet(t),
    datagram: (msg, address, port) => { t.equal(sock.send(Buffer.concat([Buffer.from('re:'), msg]), port, address), undefined, 'sent') },
    truncated: (address, port) => { truncated.push(`${address}:${port}`) }
  })
  t.teardown(() => sock.close())
  const c = await client()
  t.teardown(() => c.close())
  const reply = new Promise<Buffer>(resolve => c.once('message', resolve))
  c.send(Buffer.alloc(binding.SLOT_BYTES + 1, 7), sock.port() as number, '127.0.0.1')
  c.send('hello', sock.port() as number, '127.0.0.1')
  t.equal((await reply).toString(), 're:hello', 'the small one answered')
  t.same(truncated, [`127.0.0.1:${c.address().port}`], 'the oversized one reported with its source')
})

t.test('datagrams the kernel dropped on a full receive buffer are counted: received + dropped = sent', async t => {
  let received = 0
  const drops: Array<[number, number]> = []
  // The smallest receive buffer the kernel allows (a few KiB): most of the burst below cannot fit.
  const sock = BatchUdpSocket.open(binding, '127.0.0.1', 0, 1, {
    ...quiet(t),
    datagram: () => { received++ },
    dropped: (n, total) => { drops.push([n, total]) }
  })
  t.teardown(() => sock.close())
  t.ok((sock.recvBufferBytes() ?? 0) < 16384, `a small receive buffer (${sock.recvBufferBytes()} bytes)`)
  // spawnSync blocks this thread's loop while another process sends the burst, so nothing is read meanwhile.
  const N = 300
  const burst = `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${N}): s.sendto(bytes(300), ('127.0.0.1', ${sock.port()}))\n`
  const r = spawnSync('python3', ['-c', burst], { encoding: 'utf8' })
  t.equal(r.status, 0, r.stderr)
  // The drop counter rides on the datagrams queued after the drops: one more, once the buffer has room again.
  await new Promise(resolve => setTimeout(resolve, 20))
  const c = await client()
  t.teardown(() => c.close())
  c.send(Buffer.alloc(300), sock.port() as number, '127.0.0.1')
  const deadline = Date.now() + 3000
  while (received + (drops.at(-1)?.[1] ?? 0) < N + 1 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 5))
  const total = drops.at(-1)?.[1] ?? 0
  t.ok(total > 0, `the kernel dropped some (${total}) and said so`)
  t.equal(received + total, N + 1, `every datagram either read (${received}) or counted as dropped (${total})`)
  t.equal(drops.reduce((sum, [n]) => sum + n, 0), total, 'the reports add up to the total')
})

t.test('send errors come back as codes; close is idempotent', async t => {
  const sock = BatchUdpSocket.open(binding, '127.0.0.1', 0, 0, ignore)
  t.equal(sock.send(Buffer.from('x'), 9, 'not-an-ip'), 'EINVAL')
  // As a destination 0.0.0.0 is this host (RFC 1122 §3.2.1.3): the datagram stays on loopback.
  t.equal(sock.send(Buffer.from('x'), 9, '0.0.0.0'), undefined, '0.0.0.0 means this host')
  sock.close()
  sock.close()
  t.equal(sock.port(), undefined)
  t.equal(sock.send(Buffer.from('x'), 9, '127.0.0.1'), 'EBADF')
})

t.test('calls on a closed raw handle find it closed (the handle keeps the endpoint alive); wrong arguments throw', async t => {
  const h = binding.open('127.0.0.1', 0, 0, new ArrayBuffer(binding.BATCH * binding.SLOT_BYTES), new ArrayBuffer(binding.BATCH * binding.META_FIELDS * 4), () => {})
  t.ok((binding.port(h) ?? 0) > 0)
  binding.close(h)
  // libuv's turn to finish closing the poll handle: the endpoint stays, held by the handle, until the handle is collected.
  await new Promise(resolve => setImmediate(resolve))
  await new Promise(resolve => setTimeout(resolve, 5))
  t.equal(binding.port(h), undefined, 'port: none')
  t.equal(binding.errname(binding.send(h, Buffer.from('x'), 0x7f000001, 9)), 'EBADF', 'send: EBADF')
  binding.close(h)
  t.throws(() => binding.send({} as object, Buffer.from('x'), 0x7f000001, 9), TypeError, 'not a handle')
  t.throws(() => (binding.port as unknown as () => number)(), TypeError, 'no handle')
  t.throws(() => binding.open('127.0.0.1', 0, 0, new ArrayBuffer(16), new ArrayBuffer(16), () => {}), RangeError, 'buffers too small')
})

t.test('bind errors carry code and syscall as dgram\'s do', async t => {
  const holder = await client()
  t.teardown(() => holder.close())
  const err = t.throws(() => BatchUdpSocket.open(binding, '127.0.0.1', holder.address().port, 0, ignore)) as NodeJS.ErrnoException
  t.equal(err.code, 'EADDRINUSE')
  t.equal(err.syscall, 'bind')
  t.match(err.message, `bind EADDRINUSE 127.0.0.1:${holder.address().port}`)
  const bad = t.throws(() => BatchUdpSocket.open(binding, '192.0.2.1', 0, 0, ignore)) as NodeJS.ErrnoException
  t.equal(bad.code, 'EADDRNOTAVAIL', 'not an address of this host')
})

t.test('a worker thread that ends with its socket open gives the port back', async t => {
  const w = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads')
    const b = require(workerData)
    const h = b.open('127.0.0.1', 0, 0, new ArrayBuffer(b.BATCH * b.SLOT_BYTES), new ArrayBuffer(b.BATCH * b.META_FIELDS * 4), () => {})
    parentPort.postMessage(b.port(h))
  `, { eval: true, workerData: loaded.path })
  const port = await new Promise<number>(resolve => w.once('message', resolve))
  t.ok(port > 0, 'the worker bound a port')
  await w.terminate()
  const s = dgram.createSocket('udp4')
  t.teardown(() => s.close())
  await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve()) })
  t.equal(s.address().port, port, 'bound again after the worker ended')
})
