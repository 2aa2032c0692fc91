// Test context for the HTTP service: a real config (loadConfigText) over temp directories, the memory store,
// a fixed clock and a silent logger. The config holder is mutable so tests can prove hot reload.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { loadConfigText } from '../../src/config/load.js'
import type { AppConfig } from '../../src/config/schema.js'
import type { ConfigHolder } from '../../src/config/holder.js'
import type { AppContext } from '../../src/service.js'
import { createMemoryStore } from '../../src/store/memory.js'
import type { Store } from '../../src/store/types.js'
import { fixedClock } from '../../src/clock.js'
import { silentLogger } from '../../src/log.js'
import { buildHttpApp } from '../../src/http/app.js'
import type { HttpDeps } from '../../src/http/deps.js'

export const BASE = 'http://10.9.8.7:8080'

export interface Lab {
  dir: string
  dirs: { images: string, pe: string, files: string, tftp: string, winpe: string, state: string }
  ctx: AppContext
  clock: ReturnType<typeof fixedClock>
  app: FastifyInstance
  /** replace the running config (as a hot reload would) */
  reload (extraYaml: string): Promise<void>
}

interface TapLike { teardown (fn: () => unknown): void }

export async function configFor (dir: string, extraYaml: string, o: { winpe?: boolean, httpPort?: number, baseUrl?: string } = {}): Promise<AppConfig> {
  const yaml = [
    'server:',
    '  address: 10.9.8.7',
    '  bind: 127.0.0.1',
    `  httpBaseUrl: ${o.baseUrl ?? BASE}`,
    'ports:',
    `  http: ${o.httpPort ?? 0}`,
    'tftp:',
    `  root: ${join(dir, 'tftp')}`,
    'paths:',
    `  images: ${join(dir, 'images')}`,
    `  state: ${join(dir, 'state')}`,
    `  pe: ${join(dir, 'pe')}`,
    `  files: ${join(dir, 'files')}`,
    ...(o.winpe === true ? [`  winpe: ${join(dir, 'winpe')}`] : []),
    extraYaml
  ].join('\n')
  const r = await loadConfigText(yaml, join(dir, 'appliance.yaml'), { cwd: dir, checkFiles: false, now: new Date('2026-01-01T00:00:00Z') })
  if (!r.ok) throw new Error('test config invalid: ' + JSON.stringify(r.errors, null, 2))
  return r.config
}

export interface LabOptions {
  deps?: Partial<HttpDeps>
  /** wrap the memory store (e.g. failingStore) */
  store?: (inner: Store) => Store
  /** set paths.winpe to <dir>/winpe */
  winpe?: boolean
  /** false: no amd64 PE stand-in in paths.pe (default: vmlinuz and initrd.img, a few bytes each) */
  pe?: boolean
  /** ports.http (default 0: any free port) */
  httpPort?: number
  /** server.httpBaseUrl (default BASE) */
  baseUrl?: string
}

export async function makeLab (t: TapLike, extraYaml = '', opts: LabOptions = {}): Promise<Lab> {
  const dir = await mkdtemp(join(tmpdir(), 'nbh-http-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  const dirs = {
    images: join(dir, 'images'), pe: join(dir, 'pe'), files: join(dir, 'files'),
    tftp: join(dir, 'tftp'), winpe: join(dir, 'winpe'), state: join(dir, 'state')
  }
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true })
  // An amd64 PE stand-in: a deployment only begins when the PE of the machine's architecture is built.
  if (opts.pe !== false) for (const f of ['vmlinuz', 'initrd.img']) await writeFile(join(dirs.pe, f), `stand-in ${f}`)
  let cfg = await configFor(dir, extraYaml, opts)
  const holder: ConfigHolder = {
    current: () => cfg,
    status: () => ({ ok: true, source: cfg.source, loadedAt: '2026-01-01T00:00:00.000Z', checkedAt: '2026-01-01T00:00:00.000Z', errors: [], warnings: [] }),
    onChange: () => () => {}
  }
  const clock = fixedClock('2026-03-01T12:00:00Z')
  const mem = createMemoryStore()
  const store = opts.store === undefined ? mem : opts.store(mem)
  const ctx: AppContext = { config: holder, store, log: silentLogger, clock }
  const app = await buildHttpApp(ctx, opts.deps)
  t.teardown(async () => await app.close())
  return { dir, dirs, ctx, clock, app, reload: async (y) => { cfg = await configFor(dir, y, opts) } }
}

export async function put (path: string, data: string | Buffer): Promise<void> {
  await writeFile(path, data)
}
