// dhcp.busyPollMicroseconds: after each request the DHCP sockets keep the loop polling for the next one; 0 never.
// With the recvmmsg reader the addon holds the loop (net/udp-batch.ts NativeLoopHold), with dgram net/busy-poll.ts.
import t from 'tap'
import dgram from 'node:dgram'
import { DhcpSockets } from '../../src/dhcp/server.js'
import { BusyPoll } from '../../src/net/busy-poll.js'
import { NativeLoopHold } from '../../src/net/udp-batch.js'
import { silentLogger } from '../../src/log.js'

async function oneRequest (budget: number, batchReceive: boolean): Promise<DhcpSockets> {
  const sockets = new DhcpSockets(silentLogger, () => budget, batchReceive)
  let got = 0
  await sockets.start({ address: '127.0.0.1', dhcpPort: 0, proxyPort: 0 }, () => { got++ })
  const client = dgram.createSocket('udp4')
  for (const via of ['dhcp', 'proxy'] as const) {
    const before = got
    client.send(Buffer.alloc(300), sockets.port(via) as number, '127.0.0.1')
    while (got === before) await new Promise(resolve => setTimeout(resolve, 5))
  }
  // the hold has run out: what it spun is final
  await new Promise(resolve => setTimeout(resolve, budget / 1000 + 5))
  client.close()
  await sockets.stop()
  return sockets
}

for (const batchReceive of [true, false]) {
  const reader = batchReceive ? 'recvmmsg' : 'dgram'
  t.test(`${reader}: each request received holds the loop for the configured budget`, async t => {
    // 20 ms rather than the default 300 µs: a loaded machine may not run the thread within 300 µs of a request
    const s = await oneRequest(20_000, batchReceive)
    t.equal(s.receive, reader)
    t.type(s.busyPoll, batchReceive ? NativeLoopHold : BusyPoll, batchReceive ? 'the addon holds the loop' : 'JavaScript holds the loop')
    t.equal(s.busyPoll.holds, 2, 'one hold per datagram, on 67 and on 4011')
    t.ok(s.busyPoll.turns > 0, `the loop turned while held (${s.busyPoll.turns} turns)`)
  })

  t.test(`${reader}: 0 turns busy polling off`, async t => {
    const s = await oneRequest(0, batchReceive)
    t.equal(s.busyPoll.holds, 0)
    t.equal(s.busyPoll.turns, 0)
  })
}
