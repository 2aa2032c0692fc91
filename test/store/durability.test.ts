// kill -9 durability: a child process writes to the level store and prints each acknowledged write; we SIGKILL
// it at some point mid-stream, reopen the database and check that everything acknowledged is there, intact.
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { openLevelStore } from '../../src/store/level.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const child = join(here, 'durability-child.ts')

/**
 * Run the child until it has acknowledged `killAfter` writes, SIGKILL it, and return the acknowledged lines. With
 * `inUpdate`, the kill waits for the next third event of a deployment: the child is then in its update (state and
 * event together), where a store that wrote them apart would be caught between the two.
 */
async function writeThenKill (dir: string, first: number, killAfter: number, inUpdate = false): Promise<string[][]> {
  const p = spawn(process.execPath, ['--import', 'tsx', child, dir, String(first)], { cwd: join(here, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  p.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const acked: string[][] = []
  const exited = new Promise<NodeJS.Signals | null>(resolve => p.on('exit', (_code, sig) => resolve(sig)))
  for await (const line of createInterface({ input: p.stdout })) {
    const parts = line.split(' ')
    if (parts[0] === 'written') acked.push(parts.slice(1))
    const inUpdateNow = acked.length >= 3 && acked.slice(-3).every(a => a[0] === 'event' && a[1] === acked.at(-1)?.[1])
    if (acked.length >= killAfter && (!inUpdate || inUpdateNow)) { p.kill('SIGKILL'); break }
  }
  const sig = await exited
  if (sig !== 'SIGKILL') throw new Error(`child ended by itself (${String(sig)}): ${stderr}`)
  return acked
}

t.test('acknowledged writes survive SIGKILL of the writer', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'nbs-durability-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  // Two rounds on the same database: the second reopens what the first left after its crash, writes on top of
  // it (other deployment ids) and is killed at another point.
  // Two more rounds are killed while the child is in an update.
  const kills = [150 + Math.floor(Math.random() * 100), 40 + Math.floor(Math.random() * 60), 20, 30]
  const acked: string[][] = []
  for (const [round, n] of kills.entries()) {
    const lines = await writeThenKill(dir, round * 10_000, n, round >= 2)
    t.ok(lines.length >= n, `round ${round}: the child acknowledged ${lines.length} writes before SIGKILL`)
    acked.push(...lines)
  }

  const store = await openLevelStore(dir)
  t.teardown(async () => { await store.close() })
  let checked = 0
  for (const [kind, key, detail] of acked) {
    if (kind === 'deployment') {
      const d = await store.deployments.get(key!)
      if (detail === 'running') t.equal(d?.state, 'running', `${key} running`)
      else t.ok(d, `${key} exists`)
    } else if (kind === 'event') {
      const evs = await store.deployments.events(key!)
      t.ok(evs.some(e => e.seq === Number(detail)), `${key} event ${detail}`)
    } else if (kind === 'lease') {
      t.equal((await store.leases.get(key!))?.state, 'bound', `lease ${key}`)
    } else if (kind === 'machine') {
      t.ok(await store.machines.get(key!), `machine ${key}`)
    } else continue
    checked++
  }
  t.equal(checked, acked.length - kills.length, 'every acknowledged write was checked (all but the "open" lines)')
  // Nothing corrupt: every record parses, every deployment's events are 1..n with no gap or duplicate.
  const deployments = await store.deployments.list()
  t.ok(deployments.length >= acked.filter(a => a[0] === 'deployment' && a[2] === 'advertised').length)
  for (const d of deployments) {
    t.match(d, { id: /^dep-\d+$/, mac: /^02:00:/, tokenHash: /^[0-9a-f]{64}$/ })
    const evs = await store.deployments.events(d.id)
    const seqs = evs.map(e => e.seq)
    t.same(seqs, seqs.map((_, i) => i + 1), `${d.id} events are gapless`)
    t.equal(evs[0]?.type, 'created', `${d.id} was stored with its 'created' event`)
    t.equal(evs.some(e => e.type === 'checked-in'), d.state === 'running', `${d.id}: state ${d.state} and its events agree`)
  }
  await store.leases.list()
  await store.machines.list()
})
