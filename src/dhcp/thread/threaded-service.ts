// The DHCP service as the appliance runs it: on a thread of its own (thread-main.ts), so that nothing the main
// thread does (HTTP and TFTP transfers, state-store writes, config reloads, the main heap's garbage collection)
// holds a DHCP reply, and the DHCP thread's busy polling never takes the main thread's CPU time. bench/dhcp measures
// it against dnsmasq. The main thread serves the thread's store calls (store-bridge.ts), forwards config reloads and
// writes its log lines. Should the thread die, it is logged and started again after 1 s, doubling up to 30 s while it
// keeps dying (back to 1 s once a thread has run a minute).
import { Worker } from 'node:worker_threads'
import { performance } from 'node:perf_hooks'
import type { AppContext } from '../../service.js'
import type { DhcpService } from '../service.js'
import type { FromThread, ThreadInit, ToThread } from './protocol.js'
import { serveStoreCall } from './store-bridge.js'
import { fromWireError } from './wire-error.js'

/** stop() waits this long for the thread to close its sockets, then terminates it. */
const STOP_TIMEOUT_MS = 5000
const RESTART_MIN_MS = 1000
const RESTART_MAX_MS = 30_000
/** A thread that ran this long before it died is restarted after RESTART_MIN_MS again (not after the backed-off delay). */
const STABLE_MS = 60_000
const PINO_LEVELS: Record<number, 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

export interface ThreadedDhcpService extends DhcpService {
  /** Linux thread id of the DHCP thread while it runs (bench/dhcp pins it; `top -H` shows it as netboot-dhcp). */
  threadId (): number | undefined
}

/** The thread's module: thread-main, compiled or (under tsx) the source. */
const DEFAULT_ENTRY = new URL(import.meta.url.endsWith('.ts') ? './thread-main.ts' : './thread-main.js', import.meta.url).href

/** Starts `entry` in a worker. Under tsx (tests, benches) the worker registers tsx itself: hooks are per thread. */
function spawnThread (entry: string, init: ThreadInit): Worker {
  if (!entry.endsWith('.ts')) return new Worker(new URL(entry), { workerData: init })
  const tsx = import.meta.resolve('tsx/esm/api')
  const boot = `import(${JSON.stringify(tsx)}).then(m => { m.register(); return import(${JSON.stringify(entry)}) })`
  return new Worker(boot, { eval: true, workerData: init })
}

/** Writes a pino line of the DHCP thread through the main thread's logger (its level, destination, bindings). */
function relayLog (ctx: AppContext, line: string): void {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(line)
  } catch {
    return
  }
  const { level, time: _time, pid: _pid, hostname: _hostname, svc: _svc, msg, ...rest } = o
  const method = PINO_LEVELS[level as number] ?? 'info'
  ctx.log[method](rest, typeof msg === 'string' ? msg : '')
}

export interface ThreadOptions {
  /** the thread's module (file URL); tests start a stand-in that crashes */
  entry?: string
}

export function createThreadedService (ctx: AppContext, opts: ThreadOptions = {}): ThreadedDhcpService | undefined {
  if (ctx.config.current().dhcp.mode === 'off') return undefined
  let worker: Worker | undefined
  let ports: { dhcp?: number, proxyDhcp?: number } = {}
  let tid: number | undefined
  let stopping = false
  let restartDelay = RESTART_MIN_MS
  let restartTimer: NodeJS.Timeout | undefined
  let unsubscribe: (() => void) | undefined

  /** Starts a thread again after restartDelay (doubled for the next time); one that fails to start is retried too. */
  function scheduleRestart (why: string, fields: Record<string, unknown>): void {
    if (stopping) return
    ctx.log.error({ ...fields, restartInMs: restartDelay }, why)
    restartTimer = setTimeout(() => {
      restartTimer = undefined
      launch().catch(async (err: unknown) => {
        await worker?.terminate()
        scheduleRestart('the DHCP thread could not be started again: retrying', { err })
      })
    }, restartDelay)
    restartDelay = Math.min(RESTART_MAX_MS, restartDelay * 2)
  }

  /** Starts a thread; resolves once it listens, rejects with its start-up error (a BindError stays one). */
  function launch (): Promise<void> {
    const w = spawnThread(opts.entry ?? DEFAULT_ENTRY, { config: ctx.config.current(), logLevel: ctx.log.level })
    worker = w
    const post = (m: ToThread): void => { w.postMessage(m) }
    return new Promise((resolve, reject) => {
      let started = false
      let startedAt = 0
      w.on('message', (m: FromThread) => {
        switch (m.type) {
          case 'call': serveStoreCall(ctx.store, m, post); break
          case 'log': relayLog(ctx, m.line); break
          case 'started':
            started = true
            ports = m.ports
            tid = m.tid
            startedAt = performance.now()
            resolve()
            break
          case 'start-failed': reject(fromWireError(m.error)); break
        }
      })
      w.on('error', (err) => {
        if (!started) { reject(err); return }
        ctx.log.error({ err }, 'the DHCP thread failed (bug)')
      })
      w.on('exit', (code) => {
        if (worker === w) { worker = undefined; tid = undefined }
        if (!started) { reject(new Error(`the DHCP thread exited during start-up (code ${code})`)); return }
        if (stopping) return
        if (performance.now() - startedAt >= STABLE_MS) restartDelay = RESTART_MIN_MS
        scheduleRestart('the DHCP thread stopped unexpectedly: starting it again', { code })
      })
    })
  }

  return {
    name: 'dhcp',
    async start () {
      stopping = false
      unsubscribe = ctx.config.onChange((config) => { worker?.postMessage({ type: 'config', config } satisfies ToThread) })
      // The main thread's part of a storm is the inventory writes: their store path is compiled while the thread
      // warms up its own (Store.warmUp; scratch data, never the real database).
      const storeWarmUp = ctx.store.warmUp?.().catch((err: unknown) => { ctx.log.debug({ err }, 'store warm-up failed (harmless)') })
      try {
        await launch()
        await storeWarmUp
      } catch (err) {
        await storeWarmUp
        unsubscribe()
        stopping = true
        await worker?.terminate()
        throw err
      }
    },
    async stop () {
      stopping = true
      unsubscribe?.()
      if (restartTimer !== undefined) clearTimeout(restartTimer)
      const w = worker
      if (w === undefined) return
      const exited = new Promise<void>(resolve => { w.once('exit', () => resolve()) })
      const timer = setTimeout(() => { void w.terminate() }, STOP_TIMEOUT_MS)
      w.postMessage({ type: 'stop' } satisfies ToThread)
      await exited
      clearTimeout(timer)
    },
    ports: () => ports,
    threadId: () => tid
  }
}
