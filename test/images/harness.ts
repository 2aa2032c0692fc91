// An appliance context for image/upload tests: a real config (loadConfigText), the in-memory store, the real
// deployments service (for tokens) and the real HTTP app (buildHttpApp) — listening on 127.0.0.1 when needed.
import { mkdtemp, rm, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { loadConfigText } from '../../src/config/load.js'
import { staticConfig } from '../../src/config/holder.js'
import { createMemoryStore } from '../../src/store/index.js'
import { silentLogger } from '../../src/log.js'
import { fixedClock } from '../../src/clock.js'
import type { AppContext } from '../../src/service.js'
import type { AppConfig } from '../../src/config/schema.js'
import { createDeployments } from '../../src/deployments/deployments.js'
import { buildHttpApp } from '../../src/http/app.js'

export const CAPTURE_TOKEN = 'media-secret-0123456789'

export function applianceYaml (dir: string, extra = ''): string {
  return `server:
  address: 127.0.0.1
  bind: 127.0.0.1
ports:
  http: 8080
paths:
  images: ${join(dir, 'images')}
  state: ${join(dir, 'state')}
  pe: ${join(dir, 'pe')}
http:
  captureToken: ${CAPTURE_TOKEN}
  uploadExpiryHours: 2
taskSequences:
  - id: ts-capture
    steps:
      - type: capture
        image: ref-win
  - id: ts-deploy
    steps:
      - type: reboot
collections:
  - id: lab
    rules:
      - macPrefix: "52:54:00"
advertisements:
  - id: adv-capture
    taskSequence: ts-capture
    collection: lab
  - id: adv-deploy
    taskSequence: ts-deploy
    collection: lab
${extra}`
}

export interface Harness {
  dir: string
  cfg: AppConfig
  ctx: AppContext & { clock: ReturnType<typeof fixedClock> }
  app: FastifyInstance
  /** a deployment token for the advertisement (adv-capture has a capture step for ref-win; adv-deploy none) */
  token (adv: 'adv-capture' | 'adv-deploy', mac?: string): Promise<string>
}

export async function makeHarness (t: Test, opts: { dir?: string, extraYaml?: string } = {}): Promise<Harness> {
  const dir = opts.dir ?? await mkdtemp(join(tmpdir(), 'nbi-up-'))
  if (opts.dir === undefined) t.teardown(() => rm(dir, { recursive: true, force: true }))
  await mkdir(join(dir, 'images'), { recursive: true })
  const r = await loadConfigText(applianceYaml(dir, opts.extraYaml), join(dir, 'appliance.yaml'), { checkFiles: false })
  if (!r.ok) throw new Error('test config invalid: ' + r.errors.map(e => `${e.line}: ${e.message}`).join('; '))
  const cfg = r.config
  const ctx = { config: staticConfig(cfg), store: createMemoryStore(), log: silentLogger, clock: fixedClock(new Date()) }
  const app = await buildHttpApp(ctx)
  t.teardown(() => app.close())
  const deployments = createDeployments(ctx)
  let n = 0
  return {
    dir,
    cfg,
    ctx,
    app,
    async token (adv, mac) {
      const advertisement = cfg.advertisements.find(a => a.id === adv)!
      const taskSequence = cfg.taskSequences.find(s => s.id === advertisement.taskSequence)!
      const m = mac ?? `52:54:00:00:00:${(++n).toString(16).padStart(2, '0')}`
      const { token } = await deployments.begin({ mac: m, arch: 'bios' }, { kind: 'deploy', advertisement, taskSequence, trace: [] })
      return token
    }
  }
}
