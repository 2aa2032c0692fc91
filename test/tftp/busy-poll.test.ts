// tftp.busyPollMicroseconds against real transfers: a fast client (curl on loopback) makes the server hold the
// loop busy after its sends; 0 turns that off; a client slower than the budget is not polled for after its
// first answer. Every download is checked byte for byte.
import t from 'tap'
import dgram from 'node:dgram'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fixture, run, startServer, tempRoot } from './helpers.js'

t.test('a fast client is polled for, and the file arrives intact', async t => {
  const root = await tempRoot(t)
  const want = await fixture(root, 'loader.efi', 300 * 1024 + 7)
  const s = await startServer(t, root, { busyPollMicroseconds: 200 })
  const out = join(root, 'out.bin')
  const r = await run('curl', ['-sS', '-o', out, '--tftp-blksize', '1468', `tftp://127.0.0.1:${s.port}/loader.efi`])
  t.equal(r.code, 0, r.stderr)
  t.same(await readFile(out), want)
  t.ok(s.service.server.busyPoll.holds > 0, `held after sends (${s.service.server.busyPoll.holds} holds)`)
})

t.test('busyPollMicroseconds 0 never polls', async t => {
  const root = await tempRoot(t)
  const want = await fixture(root, 'loader.efi', 100 * 1024)
  const s = await startServer(t, root, { busyPollMicroseconds: 0 })
  const out = join(root, 'out.bin')
  const r = await run('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${s.port}/loader.efi`])
  t.equal(r.code, 0, r.stderr)
  t.same(await readFile(out), want)
  t.equal(s.service.server.busyPoll.holds, 0)
  t.equal(s.service.server.busyPoll.turns, 0)
})

/** A lockstep client that waits `delayMs` before each ACK (a slow firmware); resolves with the file. */
function slowGet (port: number, file: string, delayMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4')
    const parts: Buffer[] = []
    let expect = 1
    sock.on('message', (msg, from) => {
      if (msg.readUInt16BE(0) !== 3) { sock.close(); reject(new Error(`unexpected opcode ${msg.readUInt16BE(0)}`)); return }
      const block = msg.readUInt16BE(2)
      if (block !== expect) return
      expect++
      parts.push(msg.subarray(4))
      const ack = Buffer.from([0, 4, block >> 8, block & 0xff])
      setTimeout(() => {
        sock.send(ack, from.port, from.address, () => {
          if (msg.length < 516) { sock.close(); resolve(Buffer.concat(parts)) }
        })
      }, delayMs)
    })
    sock.send(Buffer.from(`\0\x01${file}\0octet\0`, 'latin1'), port, '127.0.0.1')
  })
}

t.test('a client slower than the budget is polled for only before its first answer', async t => {
  const root = await tempRoot(t)
  const want = await fixture(root, 'slow.bin', 20 * 512 + 100)
  const s = await startServer(t, root, { busyPollMicroseconds: 200 })
  const got = await slowGet(s.port, 'slow.bin', 5)
  t.same(got, want)
  t.equal(s.service.server.busyPoll.holds, 1, 'only DATA 1, sent before anything was measured, held the loop')
})

t.test('with more than 8 transfers running, nobody is polled for (an ACK is always due anyway)', async t => {
  const root = await tempRoot(t)
  const want = await fixture(root, 'loader.efi', 64 * 1024)
  const s = await startServer(t, root, { busyPollMicroseconds: 200 })
  // Nine clients that ask and never acknowledge: their transfers stay open (retransmitting) until the server stops.
  const stalled = await Promise.all(Array.from({ length: 9 }, async () => {
    const sock = dgram.createSocket('udp4')
    const first = new Promise<void>(resolve => sock.once('message', () => resolve()))
    sock.send(Buffer.from('\0\x01loader.efi\0octet\0', 'latin1'), s.port, '127.0.0.1')
    await first
    return sock
  }))
  t.teardown(() => { for (const sock of stalled) sock.close() })
  t.equal(s.service.server.active, 9)
  const before = s.service.server.busyPoll.holds
  t.ok(before <= 8, `only the first eight held the loop (${before})`)
  const out = join(root, 'out.bin')
  const r = await run('curl', ['-sS', '-o', out, `tftp://127.0.0.1:${s.port}/loader.efi`])
  t.equal(r.code, 0, r.stderr)
  t.same(await readFile(out), want)
  t.equal(s.service.server.busyPoll.holds, before, 'the tenth transfer ran without holding the loop')
})
