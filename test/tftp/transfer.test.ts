// The transfer state machine without sockets: a fake clock/timer and a recording send function.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { ReadTransfer, type TransferResult, type TransferSettings } from '../../src/tftp/transfer.js'
import { BufferSource } from '../../src/tftp/source.js'
import { decode, OP, type Packet } from '../../src/tftp/packet.js'

class FakeIo {
  sent: Packet[] = []
  nowMs = 0
  timers = new Map<number, { at: number, ms: number, fn: () => void }>()
  private id = 0
  send (parts: Buffer | Buffer[]): void { this.sent.push(decode(Array.isArray(parts) ? Buffer.concat(parts) : parts)) }
  setTimer (ms: number, fn: () => void): unknown { this.timers.set(++this.id, { at: this.nowMs + ms, ms, fn }); return this.id }
  /** like Node's Timeout.refresh(): same delay, counted from now */
  refreshTimer (h: unknown): void { const e = this.timers.get(h as number); if (e !== undefined) e.at = this.nowMs + e.ms }
  clearTimer (h: unknown): void { this.timers.delete(h as number) }
  deferred: Array<() => void> = []
  defer (fn: () => void): void { this.deferred.push(fn) }
  /** runs deferred bursts until none is left */
  drain (): void { while (this.deferred.length > 0) this.deferred.shift()!() }
  now (): number { return this.nowMs }
  /** the delay of the single armed timer */
  pendingDelay (): number | undefined {
    const [e] = [...this.timers.values()]
    return e === undefined ? undefined : e.at - this.nowMs
  }
  fire (): void {
    const [entry] = [...this.timers.entries()]
    if (entry === undefined) throw new Error('no timer armed')
    this.timers.delete(entry[0])
    this.nowMs = entry[1].at
    entry[1].fn()
  }
  take (): Packet[] { this.drain(); const s = this.sent; this.sent = []; return s }
  blocks (): number[] { return this.take().map(p => (p.op === OP.DATA ? p.block : -p.op)) }
  /** blocks sent back to back so far, before any deferred burst runs: the effective window */
  burst (): number[] { return this.sent.map(p => (p.op === OP.DATA ? p.block : -p.op)) }
}

function setup (size: number, s: Partial<TransferSettings> = {}): { io: FakeIo, tr: ReadTransfer, data: Buffer, end: TransferResult[] } {
  const data = randomBytes(size)
  const io = new FakeIo()
  const end: TransferResult[] = []
  const tr = new ReadTransfer(new BufferSource(data), { blksize: 512, windowsize: 1, timeoutMs: 1000, retries: 3, ...s }, io, r => end.push(r))
  return { io, tr, data, end }
}

const ack = (block: number): Packet => ({ op: OP.ACK, block })

t.test('lockstep transfer: DATA 1 answers the RRQ, each ACK releases the next block, reassembles', async t => {
  const { io, tr, data, end } = setup(1300)
  tr.start()
  const got: Buffer[] = []
  for (let b = 1; b <= 3; b++) {
    const [p] = io.take()
    t.match(p, { op: OP.DATA, block: b })
    if (p.op === OP.DATA) got.push(p.data)
    tr.handle(ack(b))
  }
  t.same(Buffer.concat(got), data)
  t.match(end, [{ result: 'ok', bytes: 1300, packets: 3, retransmits: 0 }])
  t.equal(io.timers.size, 0, 'no timer left behind')
})

t.test('a file of exactly N blocks ends with an empty block', async t => {
  const { io, tr, end } = setup(1024)
  tr.start()
  tr.handle(ack(1)); tr.handle(ack(2))
  const sent = io.take()
  t.match(sent[2], { op: OP.DATA, block: 3 })
  t.equal(sent[2].op === OP.DATA ? sent[2].data.length : -1, 0)
  tr.handle(ack(3))
  t.equal(end[0].result, 'ok')
})

t.test('duplicate ACKs never cause a duplicate send (sorcerer\'s apprentice)', async t => {
  const { io, tr } = setup(512 * 10)
  tr.start()
  tr.handle(ack(1))
  t.same(io.blocks(), [1, 2])
  t.equal(tr.handle(ack(1)), false, 'duplicate ACK 1 ignored')
  t.equal(tr.handle(ack(1)), false)
  t.equal(tr.handle(ack(0)), false, 'stale ACK 0 ignored')
  t.equal(tr.handle(ack(7)), false, 'ACK for a block never sent ignored')
  t.same(io.blocks(), [], 'nothing sent for duplicates')
})

t.test('OACK is block 0: sent first, ACK 0 starts the data, its timer retransmits it', async t => {
  const { io, tr } = setup(2000, { oack: { tsize: '2000', blksize: '1024' }, blksize: 1024 })
  tr.start()
  t.match(io.take(), [{ op: OP.OACK, options: { tsize: '2000', blksize: '1024' } }])
  io.fire()
  t.match(io.take(), [{ op: OP.OACK }], 'OACK retransmitted on timeout')
  tr.handle(ack(0))
  t.match(io.take(), [{ op: OP.DATA, block: 1 }])
})

t.test('ERROR 8 after the OACK (EDK2 tsize probe) ends quietly as option-refused', async t => {
  const { io, tr, end } = setup(2000, { oack: { tsize: '2000' } })
  tr.start()
  io.take()
  tr.handle({ op: OP.ERROR, code: 8, message: 'User aborted the transfer' })
  t.match(end, [{ result: 'option-refused', bytes: 0 }])
  t.same(io.take(), [], 'nothing answered to an ERROR')
  t.equal(io.timers.size, 0)
})

t.test('another client ERROR mid-transfer is a client-error', async t => {
  const { tr, end } = setup(5000)
  tr.start(); tr.handle(ack(1))
  tr.handle({ op: OP.ERROR, code: 0, message: 'disk full' })
  t.match(end, [{ result: 'client-error', bytes: 512 }])
})

t.test('retransmission backs off (doubling) and gives up after the retry limit with ERROR 0', async t => {
  const { io, tr, end } = setup(5000, { timeoutMs: 100, retries: 3 })
  tr.start()
  const delays: number[] = []
  for (let i = 0; i < 4; i++) {
    delays.push(io.pendingDelay() ?? -1)
    io.fire()
  }
  t.same(delays, [100, 200, 400, 800])
  const sent = io.take()
  t.same(sent.map(p => p.op), [OP.DATA, OP.DATA, OP.DATA, OP.DATA, OP.ERROR], 'first send, 3 retransmits, then ERROR')
  t.match(end, [{ result: 'timeout', retransmits: 3 }])
  t.equal(tr.handle(ack(1)), false, 'a late ACK after the end does nothing')
})

t.test('progress resets the backoff', async t => {
  const { io, tr } = setup(5000, { timeoutMs: 100 })
  tr.start(); io.fire(); io.fire()
  t.equal(io.pendingDelay(), 400)
  tr.handle(ack(1))
  t.equal(io.pendingDelay(), 100)
})

t.test('windowsize: a window per ACK, a partial ACK restarts the window after it exactly once', async t => {
  const { io, tr, data, end } = setup(512 * 20 + 100, { windowsize: 4 })
  tr.start()
  t.same(io.blocks(), [1, 2, 3, 4])
  tr.handle(ack(4))
  t.same(io.blocks(), [5, 6, 7, 8])
  tr.handle(ack(6)) // the client lost 7 (RFC 7440 §4: it ACKs the last block received in order)
  t.same(io.blocks(), [7, 8, 9, 10], 'restarts from 7')
  tr.handle(ack(6))
  t.same(io.blocks(), [], 'the same ACK again does not restart again')
  io.fire()
  t.same(io.blocks(), [7, 8, 9, 10], 'the timeout retransmits the whole window')
  const got: number[] = []
  for (const b of [10, 14, 18]) { tr.handle(ack(b)); got.push(...io.blocks()) }
  t.same(got, [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21])
  tr.handle(ack(21))
  t.match(end, [{ result: 'ok', bytes: data.length }])
})

t.test('after a window times out, later windows go out in smaller bursts (same window size)', async t => {
  const { io, tr, data, end } = setup(512 * 40, { windowsize: 8 })
  tr.start()
  t.same(io.blocks(), [1, 2, 3, 4, 5, 6, 7, 8])
  io.fire() // the client lost the tail of the window: timeout
  t.same(io.sent.map(p => (p.op === OP.DATA ? p.block : -1)), [1, 2, 3, 4], 'first burst of 4 at once')
  t.same(io.blocks(), [1, 2, 3, 4, 5, 6, 7, 8], 'the rest follows after yielding')
  tr.handle(ack(8))
  t.equal(io.sent.length, 4, 'still bursts of 4')
  t.same(io.blocks(), [9, 10, 11, 12, 13, 14, 15, 16], 'a window is still 8 blocks')
  tr.handle(ack(12)) // partial ACK while nothing is pending
  t.same(io.blocks(), [13, 14, 15, 16, 17, 18, 19, 20])
  tr.handle(ack(16))
  io.sent.length = 0
  io.deferred.length = 0 // pretend the deferred burst has not run yet...
  tr.handle(ack(18)) // ...when a newer ACK restarts the window: the stale burst must not be sent
  t.same(io.blocks(), [19, 20, 21, 22, 23, 24, 25, 26])
  for (const b of [26, 34, 40, 41]) { tr.handle(ack(b)); io.take() }
  t.match(end, [{ result: 'ok', bytes: data.length }])
})

t.test('block numbers wrap to 0 after 65535 and ACKs are mapped across the wrap', async t => {
  const size = 512 * 65537 + 10 // 65538 blocks: numbers 1..65535, 0, 1, 2
  const { io, tr, end } = setup(size, { windowsize: 8 })
  tr.start()
  let acked = 0
  while (end.length === 0) {
    const sent = io.take()
    const last = sent[sent.length - 1]
    if (last.op !== OP.DATA) throw new Error('expected DATA')
    acked += sent.length
    tr.handle(ack(last.block))
    if (acked > 70000) break
  }
  t.equal(acked, 65538)
  t.match(end, [{ result: 'ok', bytes: size }])
})

t.test('an ACK from before the wrap is not taken for one after it', async t => {
  const { io, tr } = setup(512 * 65540, { windowsize: 1 })
  tr.start()
  for (let b = 1; b <= 65535; b++) tr.handle(ack(b))
  io.take()
  t.equal(tr.handle(ack(65535)), false, 'duplicate of the last pre-wrap ACK')
  t.equal(tr.handle(ack(65534)), false, 'stale pre-wrap ACK')
  t.equal(tr.handle(ack(0)), true, 'ACK 0 after the wrap is block 65536')
  t.match(io.take(), [{ op: OP.DATA, block: 1 }])
})

t.test('abort tells the client and ends', async t => {
  const { io, tr, end } = setup(5000)
  tr.start(); io.take()
  tr.abort('server shutting down')
  t.match(io.take(), [{ op: OP.ERROR, code: 0, message: 'server shutting down' }])
  t.match(end, [{ result: 'aborted' }])
})

t.test('effective window: a partial ACK resends at once from the next block and halves it; clean windows grow it back', async t => {
  const { io, tr, end } = setup(512 * 100, { windowsize: 8 })
  tr.start()
  t.same(io.blocks(), [1, 2, 3, 4, 5, 6, 7, 8], 'starts at the full window (8 x 512 B is under the first-burst budget)')
  tr.handle(ack(8))
  t.same(io.blocks(), [9, 10, 11, 12, 13, 14, 15, 16])
  t.equal(tr.handle(ack(12)), true, 'the client lost 13 (RFC 7440 §4): partial ACK accepted')
  t.same(io.burst(), [13, 14, 15, 16], 'resent at once, without waiting for the timer, in a burst of 4 (halved)')
  t.same(io.blocks(), [13, 14, 15, 16, 17, 18, 19, 20], 'the window is still 8 blocks')
  t.equal(tr.handle(ack(12)), false, 'the same ACK again (the client saw more blocks after the gap) is ignored')
  t.same(io.blocks(), [], 'no second burst for a duplicate ACK')
  t.equal(io.deferred.length, 0)
  tr.handle(ack(20))
  t.equal(io.burst().length, 4, 'a restarted window does not grow the effective window')
  io.take()
  const sizes: number[] = []
  for (const b of [28, 36, 44, 52, 60]) {
    tr.handle(ack(b))
    sizes.push(io.burst().length)
    io.take()
  }
  t.same(sizes, [5, 6, 7, 8, 8], 'grows by one per clean window, never above the negotiated windowsize')
  tr.handle(ack(62)) // partial again
  t.equal(io.burst().length, 4, 'halved again')
  io.take()
  for (const b of [70, 78, 86, 94, 101]) { t.ok(tr.handle(ack(b)), `ACK ${b}`); io.take() } // 100 full blocks + an empty 101st
  t.match(end, [{ result: 'ok', bytes: 512 * 100 }])
})

t.test('effective window: a timeout halves it; an ACK for a block sent before the retransmission still counts', async t => {
  const { io, tr } = setup(512 * 40, { windowsize: 8 })
  tr.start()
  io.take()
  io.fire() // no ACK at all: the window is resent in bursts of 4
  t.same(io.burst(), [1, 2, 3, 4])
  t.equal(tr.handle(ack(8)), true, 'ACK 8 (the client had the first copy of all 8) is not taken for a bogus ACK')
  t.same(io.blocks(), [1, 2, 3, 4, 9, 10, 11, 12, 13, 14, 15, 16], 'the stale rest of the retransmission is dropped')
  t.equal(tr.handle(ack(17)), false, 'an ACK for a block never sent is still ignored')
})

t.test('windowed transfers retransmit a window once after 4 x the measured round trip, then on the configured timeout', async t => {
  const { io, tr, end } = setup(512 * 40, { windowsize: 8, timeoutMs: 1000, retries: 2 })
  tr.start()
  t.equal(io.pendingDelay(), 1000, 'no round trip measured yet: the configured timeout')
  io.take()
  io.nowMs += 10
  tr.handle(ack(8))
  t.equal(io.pendingDelay(), 40, 'RFC 1123 §4.2.3.2 adaptive timeout: 4 x 10 ms')
  io.take()
  io.fire() // the tail of the window was lost: the client waits silently
  t.same(io.blocks(), [9, 10, 11, 12, 13, 14, 15, 16], 'early retransmission of the window')
  t.same([io.pendingDelay()], [1000], 'then the configured timeout')
  io.fire()
  t.equal(io.pendingDelay(), 2000, 'doubling')
  io.fire()
  t.equal(end.length, 0, 'two full retransmissions allowed (retries 2)')
  io.fire()
  t.match(end, [{ result: 'timeout' }], 'given up after `retries` full timeouts, as before')
})

t.test('the adaptive timeout has a floor of 20 ms and is not used in lockstep', async t => {
  const w = setup(512 * 40, { windowsize: 8 })
  w.tr.start(); w.io.nowMs += 1; w.tr.handle(ack(8))
  t.equal(w.io.pendingDelay(), 20)
  const l = setup(512 * 40, { windowsize: 1 })
  l.tr.start(); l.io.nowMs += 1; l.tr.handle(ack(1))
  t.equal(l.io.pendingDelay(), 1000, 'lockstep keeps the configured timeout (firmware clients)')
})
