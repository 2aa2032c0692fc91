// The DHCP thread (a worker_thread started by threaded-service.ts): runs the in-thread DHCP service (../service.ts:
// sockets, warm-up, Responder, Inventory, busy polling) on an event loop and V8 heap of its own. Its store calls go
// to the main thread (remote-store.ts) and its log lines are written by the main thread's logger.
import { parentPort, workerData } from 'node:worker_threads'
import { readlinkSync, writeFileSync } from 'node:fs'
import { PerformanceObserver, performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { createService } from '../service.js'
import { systemClock } from '../../clock.js'
import type { AppConfig } from '../../config/schema.js'
import type { ConfigHolder } from '../../config/holder.js'
import type { FromThread, ThreadInit, ToThread } from './protocol.js'
import { remoteStore } from './remote-store.js'
import { toWireError } from './wire-error.js'
import { raiseThreadPriority } from './priority.js'

const port = parentPort
if (port === null) throw new Error('thread-main.ts runs as a worker thread (threaded-service.ts starts it)')
const post = (m: FromThread): void => { port.postMessage(m) }
const init = workerData as ThreadInit

/** Linux thread id, and the name `top -H` / `ps -L` show for it; undefined off Linux. */
function nameThisThread (): number | undefined {
  try {
    writeFileSync('/proc/thread-self/comm', 'netboot-dhcp')
    return Number(readlinkSync('/proc/thread-self').split('/').pop())
  } catch {
    return undefined
  }
}

// NBD_GC_LOG (bench/dhcp/diagnose.ts, via test/dhcp/lab/run-service.ts): each of this thread's GC pauses as a line
// "GC <epoch ms> <ms> <kind>" on stdout, so that slow replies can be matched with the pauses of the heap that serves them.
if (process.env.NBD_GC_LOG !== undefined) {
  new PerformanceObserver(list => {
    for (const e of list.getEntries()) {
      process.stdout.write(`GC ${(performance.timeOrigin + e.startTime).toFixed(3)} ${e.duration.toFixed(3)} ${(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? '?'}\n`)
    }
  }).observe({ entryTypes: ['gc'] })
}

let config: AppConfig = init.config
const listeners = new Set<(cfg: AppConfig) => void>()
const holder: ConfigHolder = {
  current: () => config,
  status: () => ({ ok: true, source: config.source, loadedAt: '', checkedAt: '', errors: [], warnings: [] }),
  onChange (fn) { listeners.add(fn); return () => { listeners.delete(fn) } }
}
const log = pino({ level: init.logLevel, base: { svc: 'netboot' } }, { write: (line: string) => { post({ type: 'log', line }) } })
const remote = remoteStore(post)
const service = createService({ config: holder, store: remote.store, log, clock: systemClock },
  { dryRun: on => { remote.dryRun(on) } })

port.on('message', (m: ToThread) => {
  switch (m.type) {
    case 'result': remote.settle(m); break
    case 'config':
      config = m.config
      for (const fn of listeners) fn(config)
      break
    case 'stop':
      void (async () => {
        await service?.stop().catch((err: unknown) => { log.error({ err }, 'dhcp stop failed') })
        remote.abandon('the DHCP thread is stopping')
        port.close()   // nothing else keeps the thread alive: it exits
      })()
      break
  }
})

if (service === undefined) {
  post({ type: 'start-failed', error: { name: 'Error', message: 'dhcp.mode is off: no DHCP thread needed' } })
} else {
  const tid = nameThisThread()
  // Before the warm-up, so that it runs as the storm will. Read at start, as the thread's other settings.
  const priority = raiseThreadPriority(tid, init.config.dhcp.threadPriorityBoost)
  if (priority.notRaised === undefined) log.info({ nice: priority.nice, processNice: priority.was }, 'dhcp thread runs at a higher priority than the rest of the process')
  else log.info({ nice: priority.nice, why: priority.notRaised }, 'dhcp thread priority left as the process\'s')
  service.start().then(
    () => { post({ type: 'started', ports: service.ports(), tid }) },
    (err: unknown) => { post({ type: 'start-failed', error: toWireError(err) }) })
}
