// DHCP requests the kernel drops before the service reads them (receive buffer full in a storm) are logged with
// their count and what to do: the recvmmsg reader gets the count from SO_RXQ_OVFL (net/udp-batch.ts).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { PassThrough } from 'node:stream'
import { DhcpSockets } from '../../src/dhcp/server.js'
import { createLogger } from '../../src/log.js'

t.test('a burst the thread cannot read in time: one warning with the count and a hint; more within 10 s are summed and logged at stop', async t => {
  const lines: Array<Record<string, unknown>> = []
  const out = new PassThrough()
  out.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l)) })
  const sockets = new DhcpSockets(createLogger({ level: 'info', destination: out }), () => 0, true)
  t.equal(sockets.receive, 'recvmmsg')
  let got = 0
  await sockets.start({ address: '127.0.0.1', dhcpPort: 0, proxyPort: 0 }, () => { got++ })
  let stopped = false
  t.teardown(async () => { if (!stopped) await sockets.stop() })
  // spawnSync blocks this loop while the burst fills the socket (the service asks for 4 MiB; the kernel grants up to
  // twice net.core.rmem_max): far more datagrams than fit.
  const N = 30_000
  const burst = `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nfor i in range(${N}): s.sendto(bytes(300), ('127.0.0.1', ${sockets.port('dhcp')}))\n`
  const storm = async (): Promise<void> => {
    const r = spawnSync('python3', ['-c', burst], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
    await new Promise(resolve => setTimeout(resolve, 50))
    // One more after the buffer drained: it carries the final drop count.
    spawnSync('python3', ['-c', `import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(bytes(300), ('127.0.0.1', ${sockets.port('dhcp')}))\n`])
  }
  await storm()
  const deadline = Date.now() + 5000
  while (!lines.some(l => String(l.msg).startsWith('the kernel dropped')) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 10))
  const warn = lines.find(l => String(l.msg).startsWith('the kernel dropped'))
  t.ok(warn, 'a warning about dropped requests')
  const dropped = Number(warn?.dropped)
  t.ok(dropped > 0, `dropped ${dropped}`)
  t.equal(got + dropped, N + 1, `every datagram read (${got}) or counted as dropped (${dropped})`)
  t.equal(warn?.level, 40, 'at warn level')
  t.match(String(warn?.msg), /on the DHCP port: its receive buffer \(\d+ KiB\) was full; clients retry/)
  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'))
  t.match(String(warn?.msg), rmemMax < 4 * 1048576 ? 'sysctl -w net.core.rmem_max=4194304' : 'the DHCP thread did not keep up',
    `the hint fits this host (net.core.rmem_max ${rmemMax})`)
  t.equal(lines.filter(l => String(l.msg).startsWith('the kernel dropped')).length, 1, 'one line for the burst')

  // A second storm within 10 s: no line yet; its drops are logged when the socket closes.
  await storm()
  const readBefore = got
  const until = Date.now() + 5000
  while (got < readBefore + 1 && Date.now() < until) await new Promise(resolve => setTimeout(resolve, 10))
  await new Promise(resolve => setTimeout(resolve, 100))
  const drops = (): Array<Record<string, unknown>> => lines.filter(l => String(l.msg).startsWith('the kernel dropped'))
  t.equal(drops().length, 1, 'still one line: the second storm is held back by the 10 s limit')
  stopped = true
  await sockets.stop()
  await new Promise(resolve => setImmediate(resolve))
  t.equal(drops().length, 2, 'and logged at stop')
  const second = Number(drops()[1]?.dropped)
  t.ok(second > 0)
  t.equal(got + dropped + second, 2 * (N + 1), 'both storms accounted for, datagram by datagram')
})
