// 5% loss in each direction through our own relay: real clients still get the exact file (sha256), because the
// server retransmits on timeout and recovers from lost ACKs and lost windows.
import t from 'tap'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempRoot, fixture, startServer, run, sha256 } from './helpers.js'
import { startLossyRelay } from './relay.js'

const root = await tempRoot(t)
const file = await fixture(root, 'boot.wim', 256 * 1024 + 77)
// Short server timeout so each loss costs 200 ms, not a second.
const { port, logs } = await startServer(t, root, { timeoutMs: 200, retries: 8 })

const clients: Array<[string, (relayPort: number, dest: string) => [string, string[]]]> = [
  ['curl blksize 1468 (lockstep)', (p, d) => ['curl', ['-sS', '--connect-timeout', '5', '-o', d, '--tftp-blksize', '1468', `tftp://127.0.0.1:${p}/boot.wim`]]],
  ['atftp windowsize 8 blksize 1468', (p, d) => ['atftp', ['--tftp-timeout', '1', '-g', '-r', 'boot.wim', '-l', d, '--option', 'blksize 1468', '--option', 'windowsize 8', '127.0.0.1', String(p)]]],
  ['atftp blksize 512 (lockstep, 500+ blocks)', (p, d) => ['atftp', ['--tftp-timeout', '1', '-g', '-r', 'boot.wim', '-l', d, '127.0.0.1', String(p)]]]
]

let seed = 4
for (const [name, argv] of clients) {
  t.test(`${name} through 5% loss each way`, async t => {
    const relay = await startLossyRelay(port, 0.05, seed++)
    t.teardown(() => relay.close())
    const dest = join(root, `out-${seed}`)
    const [cmd, args] = argv(relay.port, dest)
    const r = await run(cmd, args, 120000)
    t.equal(r.code, 0, `${cmd} exit status ${r.stderr.slice(-300)}`)
    t.equal(sha256(await readFile(dest).catch(() => Buffer.alloc(0))), sha256(file), 'sha256 matches')
    t.ok(relay.dropped.up > 0 && relay.dropped.down > 0, `packets were really dropped both ways (up ${relay.dropped.up}/${relay.forwarded.up}, down ${relay.dropped.down}/${relay.forwarded.down})`)
    t.comment(`dropped up ${relay.dropped.up}, down ${relay.dropped.down}`)
  })
}

t.test('the server retransmitted (the losses were recovered by its timer)', async t => {
  const ends = logs.filter(l => l.msg === 'tftp transfer end')
  t.ok(ends.some(l => l.retransmits > 0))
})
