// WIM download throughput: the appliance's HTTP service against nginx serving the same file, same run, both on
// loopback high ports (nothing leaves the machine). curl is the client for both: one stream, then N parallel
// transfers in one curl process (--parallel). Prints MiB/s, the ratio, errors, and the appliance's peak RSS.
//   npx tsx bench/http/bench.ts [--size-mib 1024] [--concurrency 50,100] [--rounds 3]
// The appliance's peak RSS is VmHWM of its process, read at the end (after every download).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { chmod, open, mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

const arg = (name: string, def: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def }
const SIZE = Number(arg('size-mib', '1024')) * 1024 * 1024
const CONCURRENCY = arg('concurrency', '50,100').split(',').map(Number)
const ROUNDS = Number(arg('rounds', '3'))
const MiB = 1024 * 1024

interface Server { name: string, url: string, proc: ChildProcess }
interface Run { mibPerSec: number, errors: number, transfers: number }

/** A WIM-sized file of incompressible bytes (a 16 MiB random block repeated), so no layer can cheat. */
async function makeFile (path: string): Promise<void> {
  const block = randomBytes(16 * MiB)
  const fh = await open(path, 'w')
  for (let off = 0; off < SIZE; off += block.length) await fh.write(block, 0, Math.min(block.length, SIZE - off))
  await fh.close()
}

async function freePort (): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1')
  await once(s, 'listening')
  const port = (s.address() as AddressInfo).port
  s.close()
  return port
}

/**
 * The appliance runs as plain JavaScript, as in production (`node dist/…`), not under tsx whose loader would add
 * ~40 MB to the RSS measured: server.ts is bundled with esbuild (already installed as tsx's dependency).
 */
async function startAppliance (dir: string): Promise<Server> {
  const bundle = join(dir, 'server.mjs')
  const esbuild = new URL('../../node_modules/.bin/esbuild', import.meta.url).pathname
  const b = spawnSync(esbuild, [new URL('./server.ts', import.meta.url).pathname, '--bundle', '--platform=node', '--format=esm',
    `--outfile=${bundle}`, '--log-level=warning', "--banner:js=import { createRequire } from 'module'; const require = createRequire(import.meta.url);"], { stdio: 'inherit' })
  if (b.status !== 0) throw new Error('esbuild failed')
  const proc = spawn(process.execPath, [bundle, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once('line', resolve)
    proc.once('exit', code => reject(new Error(`appliance exited ${code}`)))
  })
  return { name: 'appliance', url: `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}/images/bench`, proc }
}

/** nginx-light with its own config: one worker (the appliance is one process), sendfile on, no access log. */
async function startNginx (dir: string): Promise<Server> {
  const port = await freePort()
  const prefix = join(dir, 'nginx')
  await mkdir(join(prefix, 'logs'), { recursive: true })
  const conf = join(prefix, 'nginx.conf')
  await writeFile(conf, `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path ${prefix}/body; proxy_temp_path ${prefix}/proxy; fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi; scgi_temp_path ${prefix}/scgi;
  server { listen 127.0.0.1:${port}; location /images/ { alias ${dir}/; } }
}
`)
  const proc = spawn('nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}/images/bench.wim`
  for (let i = 0; i < 50; i++) {
    if (spawnSync('curl', ['-s', '-o', '/dev/null', '-r', '0-0', url]).status === 0) return { name: 'nginx', url, proc }
    await new Promise(r => setTimeout(r, 100))
  }
  throw new Error('nginx did not start')
}

/** N simultaneous whole-file downloads in one curl process; errors = transfers that were not 200 + full size. */
function download (url: string, n: number): Run {
  const args = ['-s', '-w', '%{http_code} %{size_download}\\n']
  if (n > 1) args.push('--parallel', '--parallel-immediate', '--parallel-max', String(n))
  for (let i = 0; i < n; i++) args.push('-o', '/dev/null', url)
  const t0 = process.hrtime.bigint()
  const r = spawnSync('curl', args, { encoding: 'utf8', maxBuffer: 1 << 20 })
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const lines = r.stdout.trim().split('\n').filter(Boolean)
  const good = lines.filter(l => l === `200 ${SIZE}`).length
  return { mibPerSec: (good * SIZE) / MiB / seconds, errors: n - good, transfers: n }
}

/** VmHWM (peak) or VmRSS (now) of a process, in MiB. */
function rss (pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number {
  const status = spawnSync('cat', [`/proc/${pid}/status`], { encoding: 'utf8' }).stdout
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 'NaN') / 1024
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function stop (p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.pid === undefined) return
  const exited = once(p, 'exit')
  process.kill(p.pid, 'SIGTERM')
  await exited
}

async function main (): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nbh-bench-'))
  const servers: Server[] = []
  try {
    await chmod(dir, 0o755)                                      // nginx's worker runs as www-data
    await makeFile(join(dir, 'bench.wim'))
    servers.push(await startAppliance(dir), await startNginx(dir))
    const [app, nginx] = servers
    console.log(`appliance RSS idle ${rss(app.proc.pid!).toFixed(1)} MiB`)
    for (const s of servers) download(s.url, 1)                // warm the page cache and both servers
    console.log(`file ${SIZE / MiB} MiB; client curl ${(spawnSync('curl', ['--version'], { encoding: 'utf8' }).stdout.split(' ')[1])}; ${ROUNDS} rounds, median`)
    const single: Record<string, number[]> = { appliance: [], nginx: [] }
    for (let i = 0; i < ROUNDS; i++) for (const s of servers) single[s.name].push(download(s.url, 1).mibPerSec)
    const a1 = median(single.appliance)
    const n1 = median(single.nginx)
    console.log(`single stream   appliance ${a1.toFixed(0)} MiB/s   nginx ${n1.toFixed(0)} MiB/s   ratio ${(a1 / n1).toFixed(2)}`)
    for (const n of CONCURRENCY) {
      const ra = download(app.url, n)
      const rn = download(nginx.url, n)
      console.log(`${String(n).padStart(3)} concurrent   appliance ${ra.mibPerSec.toFixed(0)} MiB/s (${ra.errors} errors of ${n})   ` +
        `nginx ${rn.mibPerSec.toFixed(0)} MiB/s (${rn.errors} errors)   ratio ${(ra.mibPerSec / rn.mibPerSec).toFixed(2)}   ` +
        `appliance peak RSS so far ${rss(app.proc.pid!).toFixed(1)} MiB`)
    }
    console.log(`appliance peak RSS (VmHWM) ${rss(app.proc.pid!).toFixed(1)} MiB`)
  } finally {
    for (const s of servers) await stop(s.proc)
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
