// The V8 flags `serve` ships with are passed everywhere it is started, and they do what they are there for: a
// young generation that keeps its size while the process is idle.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { SERVE_NODE_FLAGS, missingServeFlags } from '../../src/runtime/node-flags.js'

const repo = fileURLToPath(new URL('../..', import.meta.url))

t.test('npm start passes them to serve', async t => {
  const pkg = JSON.parse(await readFile(`${repo}/package.json`, 'utf8')) as { scripts: Record<string, string> }
  const serve = pkg.scripts.start.split('&&').map(s => s.trim()).find(s => s.endsWith(' serve'))
  t.equal(serve, `node ${SERVE_NODE_FLAGS.join(' ')} dist/src/main.js serve`)
})

t.test('missingServeFlags names the ones a process lacks', async t => {
  t.same(missingServeFlags(['--import', 'tsx']), [...SERVE_NODE_FLAGS])
  t.same(missingServeFlags([...SERVE_NODE_FLAGS]), [])
  t.same(missingServeFlags([SERVE_NODE_FLAGS[0]!]), SERVE_NODE_FLAGS.slice(1))
})

t.test('node accepts them, and the young generation they set is the one V8 reports', async t => {
  const script = 'const s = require("v8").getHeapSpaceStatistics().find(x => x.space_name === "new_space"); console.log(s.space_size)'
  const run = (flags: readonly string[]): number => {
    const r = spawnSync(process.execPath, [...flags, '-e', script], { encoding: 'utf8' })
    t.equal(r.status, 0, r.stderr)
    return Number(r.stdout.trim())
  }
  const plain = run([])
  const flagged = run(SERVE_NODE_FLAGS)
  // new space = one semi-space's capacity, from the first allocation on (without the flags V8 starts at 1 MB)
  t.ok(flagged >= 16 * 1024 * 1024, `a 16 MB semi-space from the start (${flagged} bytes)`)
  t.ok(flagged > plain, `larger than without the flags (${plain} bytes)`)
})
