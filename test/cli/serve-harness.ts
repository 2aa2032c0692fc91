// Runs `netboot serve` as a child process (node --import tsx src/main.ts) on a temp config with random high
// ports bound to 127.0.0.1 only, and collects its JSON log lines and stderr.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'

export const repo = fileURLToPath(new URL('../..', import.meta.url))

/** Five distinct random ports in 20000..59999 (dhcp, dhcpClient, proxyDhcp, tftp, http). */
export function randomPorts (): { dhcp: number, dhcpClient: number, proxyDhcp: number, tftp: number, http: number } {
  const base = 20000 + Math.floor(Math.random() * 8000) * 5
  return { dhcp: base, dhcpClient: base + 1, proxyDhcp: base + 2, tftp: base + 3, http: base + 4 }
}

export interface Site { dir: string, config: string, ports: ReturnType<typeof randomPorts> }

/** A temp directory with a config serving on 127.0.0.1 and random ports; removed at teardown. */
export async function makeSite (t: Test, extra = ''): Promise<Site> {
  const dir = await mkdtemp(join(tmpdir(), 'nbs-serve-'))
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'images'))
  await mkdir(join(dir, 'tftp'))
  await mkdir(join(dir, 'pe'))
  for (const f of ['vmlinuz', 'initrd.img']) await writeFile(join(dir, 'pe', f), `stand-in ${f}`)   // an amd64 PE, no arm64 one
  const ports = randomPorts()
  const config = join(dir, 'appliance.yaml')
  await writeFile(config, siteYaml(dir, ports, extra))
  return { dir, config, ports }
}

export function siteYaml (dir: string, p: Site['ports'], extra = ''): string {
  return `server:
  address: 127.0.0.1
  bind: 127.0.0.1
ports:
  dhcp: ${p.dhcp}
  dhcpClient: ${p.dhcpClient}
  proxyDhcp: ${p.proxyDhcp}
  tftp: ${p.tftp}
  http: ${p.http}
tftp:
  root: ${join(dir, 'tftp')}
paths:
  images: ${join(dir, 'images')}
  state: ${join(dir, 'state')}
  pe: ${join(dir, 'pe')}
${extra}`
}

export interface Running {
  proc: ChildProcess
  logs: Array<Record<string, unknown>>
  stderr (): string
  /** Resolves with the first log line whose msg matches. */
  waitLog (msg: RegExp): Promise<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

export function serve (t: Test, args: string[]): Running {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(repo, 'src/main.ts'), 'serve', ...args], {
    cwd: repo, stdio: ['ignore', 'pipe', 'pipe']
  })
  const logs: Array<Record<string, unknown>> = []
  const waiters: Array<{ re: RegExp, resolve: (l: Record<string, unknown>) => void }> = []
  let err = ''
  let buf = ''
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let nl: number
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl)
      buf = buf.slice(nl + 1)
      let rec: Record<string, unknown>
      try { rec = JSON.parse(line) } catch { rec = { msg: line, raw: true } }
      logs.push(rec)
      for (const w of [...waiters]) {
        if (w.re.test(String(rec.msg))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(rec) }
      }
    }
  })
  proc.stderr!.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve =>
    proc.on('exit', (code, signal) => resolve({ code, signal })))
  // Never leave a daemon behind, even when an assertion failed.
  t.teardown(async () => {
    if (proc.exitCode === null && proc.signalCode === null) { proc.kill('SIGKILL'); await exited }
  })
  return {
    proc,
    logs,
    stderr: () => err,
    exited,
    waitLog: async (re) => {
      const found = logs.find(l => re.test(String(l.msg)))
      if (found !== undefined) return found
      return await Promise.race([
        new Promise<Record<string, unknown>>(resolve => waiters.push({ re, resolve })),
        exited.then(e => { throw new Error(`serve exited (${e.code ?? e.signal}) before logging ${re}: ${err}`) })
      ])
    }
  }
}
