// Hostile and broken peers: duplicate ACKs, garbage and empty datagrams, foreign transfer IDs, stalled clients,
// busy limits, random datagrams. The server must keep serving everyone else throughout.
import t from 'tap'
import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { tempRoot, fixture, startServer, tftpGet, sha256, run } from './helpers.js'
import { decode, encodeAck, encodeRequest, OP, type Packet } from '../../src/tftp/packet.js'

const root = await tempRoot(t)
const loader = await fixture(root, 'loader.efi', 200 * 1024 + 3)
const small = await fixture(root, 'small.bin', 3000)

function udp (): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4')
  return new Promise(resolve => s.bind(0, '127.0.0.1', () => resolve(s)))
}
function nextPacket (s: dgram.Socket, ms = 2000): Promise<Packet | undefined> {
  return new Promise(resolve => {
    const timer = setTimeout(() => { s.off('message', on); resolve(undefined) }, ms)
    const on = (msg: Buffer): void => { clearTimeout(timer); resolve(decode(msg)) }
    s.once('message', on)
  })
}
const blocks = (size: number, bs: number): number => Math.floor(size / bs) + 1

t.test('main server', async t => {
  const { port, logs } = await startServer(t, root)

  t.test('duplicate ACKs (3 copies each) never cause duplicate DATA: lockstep', async t => {
    const r = await tftpGet(port, 'loader.efi', { ackCopies: 3 })
    t.equal(sha256(r.data!), sha256(loader))
    t.equal(r.dataPackets, blocks(loader.length, 512), 'exactly one DATA per block')
  })

  t.test('duplicate ACKs never cause duplicate windows: windowsize 8', async t => {
    const r = await tftpGet(port, 'loader.efi', { ackCopies: 3, options: { windowsize: '8', blksize: '1024' } })
    t.equal(sha256(r.data!), sha256(loader))
    t.equal(r.dataPackets, blocks(loader.length, 1024), 'exactly one DATA per block')
  })

  t.test('garbage, empty datagrams and foreign TIDs during a transfer; ERROR 5 to the stranger', async t => {
    const stranger = await udp()
    t.teardown(() => stranger.close())
    const strangerGot: Packet[] = []
    stranger.on('message', m => strangerGot.push(decode(m)))
    const r = await tftpGet(port, 'loader.efi', {
      onPacket: (p, sock, from) => {
        if (p.op !== OP.DATA || p.block !== 10) return
        sock.send(Buffer.alloc(0), from.port, from.address) // empty datagram from the peer itself
        sock.send(randomBytes(700), from.port, from.address) // garbage from the peer itself
        sock.send(Buffer.from([0, 4]), from.port, from.address) // truncated ACK
        sock.send(encodeRequest(OP.RRQ, 'x', 'octet'), from.port, from.address) // wrong opcode for a transfer
        stranger.send(encodeAck(11), from.port, from.address) // foreign TID
        stranger.send(Buffer.alloc(0), from.port, from.address)
        sock.send(Buffer.alloc(0), port, '127.0.0.1') // empty and garbage to the listening port
        sock.send(randomBytes(100), port, '127.0.0.1')
      }
    })
    t.equal(sha256(r.data!), sha256(loader), 'transfer completed intact')
    t.equal(r.dataPackets, blocks(loader.length, 512), 'and was not disturbed (no extra DATA)')
    await new Promise(resolve => setTimeout(resolve, 100))
    t.ok(strangerGot.length >= 1, 'the stranger got an answer')
    t.ok(strangerGot.every(p => p.op === OP.ERROR && p.code === 5), 'ERROR 5 unknown transfer ID')
    // ...from the unconnected twin of a transfer socket connected to the client (server.ts openTransferSockets)
    t.ok(logs.filter(l => l.msg === 'tftp transfer start').every(l => l.connected === true), 'transfer sockets are connected')
  })

  t.test('random datagrams and mutated requests to the listening port', async t => {
    const s = await udp()
    const valid = encodeRequest(OP.RRQ, 'small.bin', 'octet', { blksize: '1468', tsize: '0' })
    for (let i = 0; i < 400; i++) {
      const b = i % 2 === 0 ? randomBytes(i % 64) : Buffer.from(valid)
      if (i % 2 === 1) for (let k = 0; k < 3; k++) b[(i * 7 + k * 13) % b.length] = (i * 31 + k) & 0xff
      s.send(b, port, '127.0.0.1')
    }
    await new Promise(resolve => setTimeout(resolve, 300))
    s.close()
    const r = await tftpGet(port, 'small.bin')
    t.equal(sha256(r.data!), sha256(small), 'still serving')
  })

  t.test('a real client downloads meanwhile and afterwards', async t => {
    const dest = join(root, 'after.bin')
    const c = await run('curl', ['-sS', '-o', dest, '--tftp-blksize', '1468', `tftp://127.0.0.1:${port}/loader.efi`])
    t.equal(c.code, 0)
    t.equal(sha256(await readFile(dest)), sha256(loader))
  })
})

t.test('without a twin socket (the fallback when the port cannot be shared): one unconnected socket per transfer', async t => {
  const { port, logs } = await startServer(t, root, {}, false)
  const stranger = await udp()
  t.teardown(() => stranger.close())
  const strangerGot: Packet[] = []
  stranger.on('message', m => strangerGot.push(decode(m)))
  const r = await tftpGet(port, 'loader.efi', {
    onPacket: (p, _sock, from) => { if (p.op === OP.DATA && p.block === 10) stranger.send(encodeAck(11), from.port, from.address) }
  })
  t.equal(sha256(r.data!), sha256(loader), 'transfer completed intact')
  t.equal(r.dataPackets, blocks(loader.length, 512), 'and was not disturbed by the foreign TID')
  await new Promise(resolve => setTimeout(resolve, 100))
  t.ok(strangerGot.length >= 1 && strangerGot.every(p => p.op === OP.ERROR && p.code === 5), 'the stranger got ERROR 5 from the transfer socket itself')
  const dest = join(root, 'fallback-out.bin')
  const c = await run('curl', ['-sS', '-o', dest, '--tftp-blksize', '1468', `tftp://127.0.0.1:${port}/loader.efi`])
  t.equal(c.code, 0, c.stderr)
  t.equal(sha256(await readFile(dest)), sha256(loader), 'a real client (curl) downloads it intact')
  const starts = logs.filter(l => l.msg === 'tftp transfer start')
  t.equal(starts.length, 2)
  t.ok(starts.every(l => l.connected === false), 'the transfers ran unconnected')
  t.equal(logs.filter(l => l.msg === 'no twin socket: one unconnected transfer socket').length, 2, 'and each said why')
})

t.test('stalled clients time out and free their slot; per-client limit answers busy', async t => {
  const { port, service, logs } = await startServer(t, root, { timeoutMs: 100, retries: 2, maxTransfersPerClient: 1 })
  const stalled = tftpGet(port, 'loader.efi', { stallAfter: 3, idleMs: 3000 })
  await new Promise(resolve => setTimeout(resolve, 50))
  const busy = await tftpGet(port, 'small.bin')
  t.match(busy.error, { code: 0, message: /server busy, retry/ }, 'second transfer from the same address refused at once')
  const s = await stalled
  t.equal(s.data, undefined, 'the stalled client never finished')
  t.match(s.error, { code: 0, message: 'transfer timed out' }, 'it was told the transfer timed out')
  t.match(logs.find(l => l.msg === 'tftp transfer end' && l.file === 'loader.efi'), { result: 'timeout', retransmits: 2 })
  t.equal(service.server.active, 0, 'slot freed')
  const again = await tftpGet(port, 'small.bin')
  t.equal(sha256(again.data!), sha256(small), 'the client can download again')
})

t.test('overall limit answers busy quickly', async t => {
  const { port } = await startServer(t, root, { maxTransfers: 2, timeoutMs: 200, retries: 1 })
  const a = tftpGet(port, 'loader.efi', { stallAfter: 1, idleMs: 2000 })
  const b = tftpGet(port, 'loader.efi', { stallAfter: 1, idleMs: 2000 })
  await new Promise(resolve => setTimeout(resolve, 50))
  const c = await tftpGet(port, 'small.bin')
  t.match(c.error, { code: 0, message: /server busy/ })
  await Promise.all([a, b])
  const d = await tftpGet(port, 'small.bin')
  t.equal(sha256(d.data!), sha256(small), 'served again once the stalled ones timed out')
})

t.test('a retransmitted RRQ from the same port does not start a second transfer', async t => {
  const { port, logs } = await startServer(t, root)
  const s = await udp()
  t.teardown(() => s.close())
  const rrq = encodeRequest(OP.RRQ, 'small.bin', 'octet')
  s.send(rrq, port, '127.0.0.1')
  s.send(rrq, port, '127.0.0.1')
  const first = await nextPacket(s)
  t.match(first, { op: OP.DATA, block: 1 })
  const second = await nextPacket(s, 300)
  t.equal(second, undefined, 'only one DATA 1')
  t.equal(logs.filter(l => l.msg === 'tftp transfer start').length, 1)
})

t.test('a new RRQ from a port whose transfer already progressed restarts it (client restarted), silently', async t => {
  const { port, logs } = await startServer(t, root)
  const s = await udp()
  t.teardown(() => s.close())
  const rrq = encodeRequest(OP.RRQ, 'small.bin', 'octet')
  const got: Array<{ p: Packet, from: number }> = []
  s.on('message', (m, r) => got.push({ p: decode(m), from: r.port }))
  // Wait for what is expected rather than a fixed time: under load 100 ms is not always enough.
  const until = async (n: number): Promise<void> => {
    for (let i = 0; i < 200 && got.length < n; i++) await new Promise(resolve => setTimeout(resolve, 10))
  }
  s.send(rrq, port, '127.0.0.1')
  await until(1)
  const firstPort = got[0].from
  s.send(encodeAck(1), firstPort, '127.0.0.1')
  await until(2)
  t.match(got.slice(0, 2).map(g => g.p), [{ op: OP.DATA, block: 1 }, { op: OP.DATA, block: 2 }])
  got.length = 0
  s.send(rrq, port, '127.0.0.1')
  await until(1)
  await new Promise(resolve => setTimeout(resolve, 50)) // room for a stray ERROR from the old transfer to show up
  t.match(got.map(g => g.p), [{ op: OP.DATA, block: 1 }], 'a fresh DATA 1 and no ERROR from the old transfer')
  t.notOk(got.some(g => g.p.op === OP.ERROR), 'no ERROR from the superseded transfer')
  t.not(got[0]?.from, firstPort, 'from a new transfer port')
  t.match(logs.find(l => l.msg === 'tftp transfer end'), { result: 'aborted', message: 'superseded by a new request' })
})
