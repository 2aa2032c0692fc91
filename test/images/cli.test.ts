// `netboot images` end to end on a real config and level store: directly, and through the daemon's admin API
// when a running appliance holds the store.
import t from 'tap'
import { mkdtemp, rm, readFile, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli } from '../../src/cli/index.js'
import { loadConfigFile } from '../../src/config/load.js'
import { staticConfig } from '../../src/config/holder.js'
import { openStore } from '../../src/store/index.js'
import { silentLogger } from '../../src/log.js'
import { systemClock } from '../../src/clock.js'
import { buildHttpApp } from '../../src/http/app.js'
import { sh, makeTree, SAMPLE_TREE } from './wimlib.js'

const dir = await mkdtemp(join(tmpdir(), 'nbi-cli-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
await makeTree(join(dir, 'src'), SAMPLE_TREE)
const wim = join(dir, 'sample.wim')
await sh('wimcapture', [join(dir, 'src'), wim, 'Sample Image', 'via the CLI'])
await mkdir(join(dir, 'images'))
const port = 20000 + Math.floor(Math.random() * 40000)
const config = join(dir, 'appliance.yaml')
await writeFile(config, `server:
  address: 127.0.0.1
  bind: 127.0.0.1
ports:
  http: ${port}
paths:
  images: ${join(dir, 'images')}
  state: ${join(dir, 'state')}
images:
  - id: win
    file: win.wim
taskSequences:
  - id: ts-win
    steps:
      - type: applyImage
        image: win
`)

async function cli (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  const out: string[] = []
  const err: string[] = []
  const code = await runCli(['images', ...argv, '--config', config], { out: l => out.push(l), err: l => err.push(l) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

t.test('on the state store directly', async t => {
  let r = await cli('list')
  t.equal(r.code, 0)
  t.match(r.out, /no images in the catalog/)
  r = await cli('add', wim, '--id', 'win')
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^added win: 1 image\(s\), .*sha256 [0-9a-f]{64}$/)
  r = await cli('list')
  t.match(r.out, /^win\s+\S+ KiB\s+1\s+lzx\s+\S+\s+Sample Image$/m)
  r = await cli('info', 'win')
  t.match(r.out, /\[1\] Sample Image — via the CLI/)
  t.match(r.out, /5 files, \d+ directories/)
  r = await cli('info', 'win', '--json')
  t.equal(JSON.parse(r.out).wim.images[0].fileCount, 5)
  r = await cli('verify')
  t.equal(r.code, 0)
  t.match(r.out, /^win: OK/)
  r = await cli('add', wim, '--id', 'win')
  t.equal(r.code, 1, 'an id is added once')
  t.match(r.err, /NB_ERR_IMAGE_EXISTS/)
  r = await cli('add', wim)
  t.equal(r.code, 2, 'usage error without --id')
  r = await cli('frobnicate')
  t.equal(r.code, 2)
})

t.test('through the admin API while a daemon holds the store', async t => {
  const loaded = await loadConfigFile(config, { checkFiles: false })
  if (!loaded.ok) throw new Error('config')
  const store = await openStore(loaded.config)
  const ctx = { config: staticConfig(loaded.config), store, log: silentLogger, clock: systemClock }
  const app = await buildHttpApp(ctx)
  await app.listen({ port, host: '127.0.0.1' })
  t.teardown(async () => { await app.close(); await store.close() })

  let r = await cli('list')
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^win\s/m, 'the daemon answers with the catalog')
  // Damage the stored file: verify fails with exit 1 and says why.
  const p = join(dir, 'images', 'win.wim')
  const b = await readFile(p)
  b[b.length >> 1] ^= 0x55
  await writeFile(p, b)
  r = await cli('verify', 'win')
  t.equal(r.code, 1)
  t.match(r.err, /win: FAILED — SHA-256 is [0-9a-f]{64}, catalog says/)
  r = await cli('remove', 'win')
  t.equal(r.code, 1, 'ts-win uses it')
  t.match(r.err, /used by task sequence\(s\) ts-win.*--force.*\[NB_ERR_IMAGE_IN_USE\]/)
  r = await cli('remove', 'win', '--force')
  t.equal(r.code, 0, r.err)
  t.match(r.out, /removed win \(win\.wim\) although task sequence\(s\) ts-win use it/)
  r = await cli('add', wim, '--id', 'again')
  t.equal(r.code, 0, r.err)
  r = await cli('list', '--url', `http://127.0.0.1:${port}/`)
  t.equal(r.code, 0, r.err)
  t.match(r.out, /^again\s/m, '--url goes straight to the admin API')
  r = await cli('info', 'nope')
  t.equal(r.code, 1)
  t.match(r.err, /NB_ERR_IMAGE_NOT_FOUND/)
  await app.close()
  r = await cli('list')
  t.equal(r.code, 1, 'daemon gone but store still locked')
  t.match(r.err, /NB_ERR_ADMIN_UNREACHABLE/)
})
