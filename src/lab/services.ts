// The lab's servers: a stand-in site DHCP server (dnsmasq-base, DHCP + IPv6 RA only, no PXE) in a side
// namespace, and the appliance itself (`netboot serve`) in the lab's namespace.
import { type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import type { Lab } from './netns.js'
import { killChild } from './netns.js'

// The package root: src/lab/ from sources, dist/src/lab/ once compiled (netboot lab from dist).
const up2 = resolve(import.meta.dirname, '..', '..')
export const REPO_ROOT = basename(up2) === 'dist' ? dirname(up2) : up2
const COMPILED = basename(up2) === 'dist'
/** The appliance tree `startAppliance` runs (NETBOOT_APPLIANCE_ROOT: e.g. a patched copy, or a release). */
export const APPLIANCE_ROOT = process.env.NETBOOT_APPLIANCE_ROOT ?? REPO_ROOT

export interface Dnsmasq { ns: string, address: string, child: ChildProcess, log: string, stop (): Promise<void> }

/**
 * dnsmasq as the site's DHCP server: addresses SUBNET.100–200, no router, no DNS, and an IPv6 router
 * advertisement (ra-only): without one iPXE waits 15–40 s for IPv6 autoconfiguration.
 */
export async function startDnsmasq (lab: Lab, workDir: string): Promise<Dnsmasq> {
  const host = await lab.addHost('dhcp', 2)
  const log = join(workDir, 'dnsmasq.log')
  const child = lab.spawnInNs(['dnsmasq', '--no-daemon', '--port=0', '--conf-file=/dev/null', '--no-resolv', '--no-hosts',
    `--interface=${host.ifname}`, '--bind-interfaces', '--user=root', '--group=root', '--pid-file=',
    '--leasefile-ro', '--dhcp-authoritative', '--log-dhcp', '--log-facility=-',
    `--dhcp-range=${lab.subnet}.100,${lab.subnet}.200,255.255.255.0,1h`, '--dhcp-option=3', '--dhcp-option=6',
    `--dhcp-range=fd00:${lab.id.slice(0, 4)}::,ra-only,64`, '--enable-ra'],
  { ns: host.ns, stdio: ['ignore', 'pipe', 'pipe'] })
  const out = createWriteStream(log)
  child.stdout?.pipe(out); child.stderr?.pipe(out)
  await waitFor(async () => (await readFile(log, 'utf8').catch(() => '')).includes('DHCP, IP range'), 10_000, `dnsmasq did not start (see ${log})`, child)
  return { ns: host.ns, address: host.address, child, log, stop: async () => { await killChild(child) } }
}

export interface Appliance {
  child: ChildProcess
  /** the daemon's stdout/stderr (pino JSON lines) */
  log: string
  configFile: string
  baseUrl: string
  /** GET a JSON path of the appliance from inside the lab namespace (loopback: the admin API answers) */
  get<T = unknown> (path: string): Promise<T>
  /** GET a path and return the body text and status */
  fetchText (path: string): Promise<{ status: number, body: string }>
  stop (): Promise<void>
}

/** Spawn `netboot serve --config FILE` (through tsx) in the lab's namespace and wait until HTTP answers. */
export async function startAppliance (lab: Lab, configYaml: string, workDir: string, opts: { httpPort?: number } = {}): Promise<Appliance> {
  const configFile = join(workDir, 'appliance.yaml')
  await writeFile(configFile, configYaml)
  const log = join(workDir, 'appliance.log')
  const port = opts.httpPort ?? 80
  // From sources: tsx resolved from the repository (the daemon's cwd is the work dir, where a bare 'tsx' does
  // not resolve). From dist: the compiled entry point.
  const entry = COMPILED && process.env.NETBOOT_APPLIANCE_ROOT === undefined
    ? [join(REPO_ROOT, 'dist/src/main.js')]
    : ['--import', import.meta.resolve('tsx'), join(APPLIANCE_ROOT, 'src/main.ts')]
  const child = lab.spawnInNs(['node', ...entry, 'serve', '--config', configFile, '--log-level', 'debug'],
    { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
  const out = createWriteStream(log)
  child.stdout?.pipe(out); child.stderr?.pipe(out)
  const fetchText = async (path: string): Promise<{ status: number, body: string }> => {
    const { stdout } = await lab.run(['curl', '-sS', '-m', '20', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`])
    const i = stdout.lastIndexOf('\n')
    return { status: Number(stdout.slice(i + 1)), body: stdout.slice(0, i) }
  }
  const app: Appliance = {
    child,
    log,
    configFile,
    baseUrl: `http://${lab.address}${port === 80 ? '' : `:${port}`}`,
    fetchText,
    async get<T>(path: string): Promise<T> {
      const r = await fetchText(path)
      if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${r.body.slice(0, 500)}`)
      return JSON.parse(r.body) as T
    },
    stop: async () => { await killChild(child) }
  }
  try {
    await waitFor(async () => (await fetchText('/boot.ipxe').catch(() => ({ status: 0 }))).status === 200, 60_000,
      'the appliance did not answer on HTTP', child)
  } catch (err) {
    await killChild(child)
    const tail = (await readFile(log, 'utf8').catch(() => '')).split('\n').slice(-15).join('\n')
    throw new Error(`${(err as Error).message}; its log ends with:\n${tail}`)
  }
  return app
}

export async function waitFor (check: () => Promise<boolean>, timeoutMs: number, message: string, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${message} (exited ${child.exitCode ?? child.signalCode ?? ''})`)
    if (Date.now() > deadline) throw new Error(message)
    await new Promise(r => setTimeout(r, 300))
  }
}
