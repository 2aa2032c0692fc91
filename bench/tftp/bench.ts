// TFTP throughput against Debian's tftpd-hpa and atftpd, same run, same clients, loopback high ports.
//   npx tsx bench/tftp/bench.ts [--reps 3] [--size-mib 64] [--small 200]
// The reference servers conflict as installed packages, so their .debs (and libwrap0 they link to) are fetched
// with `apt-get download` into a temp dir and run from `dpkg-deb -x` without installing anything.
// Clients: curl (--tftp-blksize) for windowsize 1, atftp (--option windowsize 16) for windowed runs; tftpd-hpa
// does not implement RFC 7440, so its "windowsize 16" column is lockstep (it ignores the option).
// Then 200 concurrent small transfers (our own minimal client, in this process) per server: time for all.
// Our server runs twice: with the default tftp.busyPollMicroseconds (200) and with busy polling off (0), and every
// row also prints the CPU seconds each server process used for its runs (utime + stime, children included, from
// a cgroup per server, see cpu.ts), so what busy polling buys and what it costs are side by side.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, writeFile, readdir } from 'node:fs/promises'
import { tmpdir, loadavg } from 'node:os'
import { meterCpu, type CpuMeter } from './cpu.js'
import { join } from 'node:path'
import { tftpGet } from '../../test/tftp/helpers.js'

const arg = (name: string, def: string): string => { const i = process.argv.indexOf(`--${name}`); return i > 0 ? process.argv[i + 1] : def }
const REPS = Number(arg('reps', '3'))
const SIZE_MIB = Number(arg('size-mib', '64'))
const SMALL = Number(arg('small', '200'))
const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

interface Server { name: string, port: number, proc: ChildProcess, cpu?: CpuMeter }

function fetchReferenceServers (dir: string): string {
  const dl = spawnSync('apt-get', ['download', 'tftpd-hpa', 'atftpd', 'libwrap0'], { cwd: dir, encoding: 'utf8' })
  if (dl.status !== 0) throw new Error(`apt-get download failed: ${dl.stderr}`)
  const extracted = join(dir, 'root')
  for (const f of spawnSync('sh', ['-c', 'ls *.deb'], { cwd: dir, encoding: 'utf8' }).stdout.trim().split('\n')) {
    const x = spawnSync('dpkg-deb', ['-x', join(dir, f), extracted])
    if (x.status !== 0) throw new Error(`dpkg-deb -x ${f} failed`)
  }
  return extracted
}

function startOurs (root: string, port: number, busyPoll: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['--import', 'tsx', 'bench/tftp/serve.ts', root, String(port), String(busyPoll)], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise<ChildProcess>((resolve, reject) => {
    p.stdout?.once('data', () => resolve(p))
    p.once('exit', code => reject(new Error(`our server exited (${code})`)))
  })
}

async function startServers (ref: string, root: string, base: number): Promise<Server[]> {
  const env = { ...process.env, LD_LIBRARY_PATH: join(ref, 'usr/lib/x86_64-linux-gnu') }
  const ours = await startOurs(root, base, 200)
  const oursNoPoll = await startOurs(root, base + 3, 0)
  const hpa = spawn(join(ref, 'usr/sbin/in.tftpd'), ['-L', '-u', 'nobody', '-a', `127.0.0.1:${base + 1}`, '-s', root], { env, stdio: 'inherit' })
  const atftpd = spawn(join(ref, 'usr/sbin/atftpd'), ['--daemon', '--no-fork', '--port', String(base + 2), '--bind-address', '127.0.0.1',
    '--user', 'nobody.nogroup', '--maxthread', String(SMALL + 50), '--logfile', '/dev/null', root], { env, stdio: 'inherit' })
  await sleep(500)
  return [{ name: 'netboot', port: base, proc: ours }, { name: 'netboot-nopoll', port: base + 3, proc: oursNoPoll }, { name: 'tftpd-hpa', port: base + 1, proc: hpa }, { name: 'atftpd', port: base + 2, proc: atftpd }]
}

function client (ws: number, bs: number, port: number, dest: string): [string, string[]] {
  if (ws === 1) return ['curl', ['-sS', '-o', dest, '--tftp-blksize', String(bs), `tftp://127.0.0.1:${port}/big.bin`]]
  return ['atftp', ['-g', '-r', 'big.bin', '-l', dest, '--option', `blksize ${bs}`, '--option', `windowsize ${ws}`, '127.0.0.1', String(port)]]
}

/** One download; returns MiB/s, or 0 when it failed, took over 60 s or produced a wrong file. */
async function once (ws: number, bs: number, port: number, dest: string, want: string): Promise<number> {
  const [cmd, args] = client(ws, bs, port, dest)
  const t0 = process.hrtime.bigint()
  const code = await new Promise<number | null>(resolve => {
    const p = spawn(cmd, args, { stdio: 'ignore' })
    const kill = setTimeout(() => p.kill('SIGKILL'), 60000)
    p.on('exit', c => { clearTimeout(kill); resolve(c) })
  })
  const s = Number(process.hrtime.bigint() - t0) / 1e9
  const ok = code === 0 && sha(await readFile(dest).catch(() => Buffer.alloc(0))) === want
  await rm(dest, { force: true })
  return ok ? SIZE_MIB / s : 0
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

async function small (port: number, want: string): Promise<{ ms: number, ok: number }> {
  const t0 = Date.now()
  const rs = await Promise.all(Array.from({ length: SMALL }, () => tftpGet(port, 'small.bin', { options: { blksize: '1468' }, idleMs: 15000 })))
  return { ms: Date.now() - t0, ok: rs.filter(r => r.data !== undefined && sha(r.data) === want).length }
}

async function main (): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'nbt-bench-'))
  const servers: Server[] = []
  try {
    const ref = fetchReferenceServers(work)
    const root = join(work, 'tftproot')
    await spawnSync('mkdir', ['-p', root])
    const big = randomBytes(SIZE_MIB * 1024 * 1024)
    const smallFile = randomBytes(64 * 1024 + 5)
    await writeFile(join(root, 'big.bin'), big)
    await writeFile(join(root, 'small.bin'), smallFile)
    for (const p of [work, root]) await chmod(p, 0o755)
    for (const f of await readdir(root)) await chmod(join(root, f), 0o644)
    const base = 20000 + Math.floor(Math.random() * 20000)
    servers.push(...await startServers(ref, root, base))
    for (const s of servers) s.cpu = meterCpu(s.proc.pid ?? 0, s.name)
    console.log(`CPU time measured with: ${servers[0].cpu?.kind}`)
    const want = sha(big)
    console.log(`${SIZE_MIB} MiB file, median of ${REPS}, loopback; load average before: ${loadavg().map(x => x.toFixed(2)).join(' ')}`)
    console.log('MiB/s (CPU seconds the server used for its runs); "no poll" is netboot with tftp.busyPollMicroseconds 0')
    console.log('config                 |       netboot |       no poll |     tftpd-hpa |        atftpd | vs hpa | vs atftpd | no poll vs hpa')
    for (const ws of [1, 16]) {
      for (const bs of [512, 1468, 8192]) {
        const res: number[] = []
        const cpu: number[] = []
        for (const s of servers) {
          const cpu0 = s.cpu?.seconds() ?? 0
          const xs: number[] = []
          for (let i = 0; i < REPS; i++) {
            xs.push(await once(ws, bs, s.port, join(work, 'dl.bin'), want))
            if (xs[0] === 0) break // failed (wrong file or no end within 60 s): do not wait for it twice more
          }
          res.push(median(xs))
          cpu.push((s.cpu?.seconds() ?? 0) - cpu0)
        }
        const name = `bs ${bs} ws ${ws} (${ws === 1 ? 'curl' : 'atftp'})`.padEnd(22)
        const cols = res.map((x, i) => `${x.toFixed(1)} (${cpu[i].toFixed(1)})`.padStart(13))
        const [ours, noPoll, hpa, atftpd] = res
        console.log(`${name} | ${cols.join(' | ')} | ${(ours / hpa).toFixed(2).padStart(6)} | ${(ours / atftpd).toFixed(2).padStart(9)} | ${(noPoll / hpa).toFixed(2).padStart(14)}`)
      }
    }
    // Rounds interleaved across servers, median reported: a single round mostly measured which server went first.
    const wantSmall = sha(smallFile)
    const rounds = new Map<string, Array<{ ms: number, ok: number }>>(servers.map(s => [s.name, []]))
    for (let i = 0; i < REPS; i++) for (const s of servers) rounds.get(s.name)?.push(await small(s.port, wantSmall))
    for (const s of servers) {
      const rs = rounds.get(s.name) ?? []
      const ms = rs.map(r => r.ms)
      console.log(`${SMALL} concurrent 64 KiB transfers, blksize 1468 (our client) -> ${s.name.padEnd(14)}: ${median(ms)} ms for all (median of ${rs.length}: ${ms.join(', ')}), ${Math.min(...rs.map(r => r.ok))}/${SMALL} intact`)
    }
  } finally {
    for (const s of servers) s.proc.kill('SIGTERM')
    await sleep(300)
    for (const s of servers) if (s.proc.exitCode === null) s.proc.kill('SIGKILL')
    await sleep(100)
    for (const s of servers) s.cpu?.release()
    await rm(work, { recursive: true, force: true })
  }
}

await main()
