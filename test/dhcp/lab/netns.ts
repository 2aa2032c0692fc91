// A two-namespace lab for the DHCP tests: server ns ↔ veth ↔ client ns, 10.99.0.1/24 ↔ 10.99.0.2/24.
// Names start with nbd- and carry a random suffix so test files can run in parallel; cleanup() deletes both.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { SERVE_NODE_FLAGS } from '../../../src/runtime/node-flags.js'

export const SERVER_IP = '10.99.0.1'
export const CLIENT_IP = '10.99.0.2'
const REPO = fileURLToPath(new URL('../../../', import.meta.url))

export interface Lab {
  serverNs: string
  clientNs: string
  clientIf: string
  serverIf: string
  /** run a command in a namespace, return stdout; `tolerant`: a non-zero exit still returns stdout + stderr */
  run (ns: string, cmd: string[], timeoutMs?: number, tolerant?: boolean): string
  /** start the DHCP service in the server ns; resolves when it printed READY */
  startService (spec: object): Promise<ServiceProc>
  cleanup (): void
}

export interface ServiceProc {
  proc: ChildProcess
  /** Linux thread id of the thread serving DHCP (the DHCP thread, or the main thread with inThread) */
  tid: number | undefined
  stop (): Promise<string>
}

const sh = (args: string[]): void => { execFileSync('ip', args, { stdio: 'pipe' }) }

export function createLab (): Lab {
  const id = randomBytes(3).toString('hex')
  const serverNs = `nbd-s${id}`; const clientNs = `nbd-c${id}`
  const sIf = `nbd${id}s`; const cIf = `nbd${id}c`
  const procs = new Set<ChildProcess>()
  const cleanup = (): void => {
    for (const p of procs) if (p.exitCode === null && p.pid !== undefined) { try { process.kill(p.pid, 'SIGKILL') } catch {} }
    for (const ns of [serverNs, clientNs]) { try { sh(['netns', 'del', ns]) } catch {} }
  }
  try {
    sh(['netns', 'add', serverNs]); sh(['netns', 'add', clientNs])
    sh(['link', 'add', sIf, 'type', 'veth', 'peer', 'name', cIf])
    sh(['link', 'set', sIf, 'netns', serverNs]); sh(['link', 'set', cIf, 'netns', clientNs])
    for (const [ns, ifc, ip] of [[serverNs, sIf, SERVER_IP], [clientNs, cIf, CLIENT_IP]]) {
      sh(['-n', ns, 'link', 'set', 'lo', 'up'])
      sh(['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', ifc])
      sh(['-n', ns, 'link', 'set', ifc, 'up'])
      // Broadcasts to 255.255.255.255 need a route; inside these namespaces it can only lead to the veth.
      sh(['-n', ns, 'route', 'add', 'default', 'dev', ifc])
    }
  } catch (err) {
    cleanup()
    throw err
  }
  return {
    serverNs, clientNs, clientIf: cIf, serverIf: sIf, cleanup,
    run (ns, cmd, timeoutMs = 30_000, tolerant = false) {
      if (tolerant) {
        const r = spawnSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs })
        return `${r.stdout ?? ''}${r.stderr ?? ''}`
      }
      return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] })
    },
    startService (spec) {
      // NBD_CPU_PROF=<dir>: write a V8 CPU profile of the service there (bench/dhcp profiling).
      const prof = process.env.NBD_CPU_PROF !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${process.env.NBD_CPU_PROF}`] : []
      // NBD_NODE_FLAGS="--trace-gc …": extra node/V8 flags for the service (bench/dhcp diagnosis).
      prof.push(...(process.env.NBD_NODE_FLAGS ?? '').split(' ').filter(f => f !== ''))
      // NBD_NICE=-10: the service runs under `nice -n -10` (bench/dhcp --nice).
      const nice = process.env.NBD_NICE !== undefined ? ['nice', '-n', process.env.NBD_NICE] : []
      // The service runs with the V8 flags it ships with (src/runtime/node-flags.ts), as systemd and npm start run it.
      const proc = spawn('ip', ['netns', 'exec', serverNs, ...nice, process.execPath, ...SERVE_NODE_FLAGS, ...prof, '--import', 'tsx', 'test/dhcp/lab/run-service.ts', JSON.stringify(spec)],
        { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
      procs.add(proc)
      let out = ''; let err = ''
      proc.stdout.on('data', (d) => { out += d })
      proc.stderr.on('data', (d) => { err += d })
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`service did not start: ${err}`)), 30_000)
        proc.on('exit', (code) => { clearTimeout(timer); if (!out.includes('READY')) reject(new Error(`service exited ${code}: ${err}`)) })
        proc.stdout.on('data', () => {
          if (!out.includes('READY')) return
          clearTimeout(timer)
          const tid = Number(/READY \S+ \S+ (\d+)/.exec(out)?.[1])
          resolve({
            proc,
            tid: Number.isInteger(tid) ? tid : undefined,
            stop: async () => await new Promise<string>((res) => {
              if (proc.exitCode !== null) { res(out); return }
              proc.on('exit', () => { procs.delete(proc); res(out + err) })
              proc.kill('SIGTERM')
            })
          })
        })
      })
    }
  }
}

/** Runs dhcp_client.py in the client ns; returns the received datagrams. */
export function pyClient (lab: Lab, spec: object): Array<{ phase: string, from: string, port: number, buf: Buffer }> {
  const out = lab.run(lab.clientNs, ['/usr/bin/python3', fileURLToPath(new URL('./dhcp_client.py', import.meta.url)), JSON.stringify(spec)], 60_000)
  return out.split('\n').filter(l => l.startsWith('{')).map(l => {
    const j = JSON.parse(l)
    return { phase: j.phase, from: j.from, port: j.port, buf: Buffer.from(j.hex, 'hex') }
  })
}
