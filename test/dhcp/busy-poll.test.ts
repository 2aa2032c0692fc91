// dhcp.busyPollMicroseconds: after each request the DHCP sockets keep the loop polling for the next one; 0 never.
import t from 'tap'
import dgram from 'node:dgram'
import { DhcpSockets } from '../../src/dhcp/server.js'
import { silentLogger } from '../../src/log.js'

async function oneRequest (budget: number): Promise<DhcpSockets> {
  const sockets = new DhcpSockets(silentLogger, () => budget)
  let got = 0
  await sockets.start({ address: '127.0.0.1', dhcpPort: 0, proxyPort: 0 }, () => { got++ })
  const client = dgram.createSocket('udp4')
  for (const via of ['dhcp', 'proxy'] as const) {
    const before = got
    client.send(Buffer.alloc(300), sockets.port(via) as number, '127.0.0.1')
    while (got === before) await new Promise(resolve => setTimeout(resolve, 5))
  }
  client.close()
  await sockets.stop()
  return sockets
}

t.test('each request received holds the loop for the configured budget', async t => {
  const s = await oneRequest(300)
  t.equal(s.busyPoll.holds, 2, 'one hold per datagram, on 67 and on 4011')
  t.ok(s.busyPoll.turns >= 0)
})

t.test('0 turns busy polling off', async t => {
  const s = await oneRequest(0)
  t.equal(s.busyPoll.holds, 0)
  t.equal(s.busyPoll.turns, 0)
})
