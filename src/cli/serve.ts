// `netboot serve`: load and watch the config, open the state store, start every enabled service, and run
// until SIGTERM/SIGINT. SIGHUP re-reads the config now. Exit codes: 0 stopped cleanly, 1 bad config or
// failure, 2 a port could not be bound (BindError: the message says what to do) or bad arguments.
import { parseArgs } from 'node:util'
import type { CliCommand, CliIO } from './command.js'
import { build, type App } from '../app.js'
import { BindError } from '../errors.js'
import { createLogger, type Logger } from '../log.js'
import { systemClock } from '../clock.js'
import { EMBEDDED_CONFIG_PATH } from '../config/load.js'
import { watchConfig, type WatchedConfig } from '../config/watch.js'
import { formatIssue, type ConfigIssue } from '../config/issues.js'
import type { AppConfig } from '../config/schema.js'
import { openStore, storeDir } from '../store/index.js'
import type { Store } from '../store/types.js'
import type { Service } from '../service.js'
import { missingServeFlags } from '../runtime/node-flags.js'
import { peStatus } from '../pe/availability.js'
import { secureBootStatus } from '../secureboot/status.js'
import { peBuildCommand } from '../pe/arch.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
/** How long stop() may take before the daemon exits anyway (a hung socket close must not block systemd). */
const STOP_TIMEOUT_MS = 10_000

const usage = `usage: netboot serve [--config FILE] [--log-level LEVEL]

Run the appliance: proxyDHCP (or full DHCP), TFTP and HTTP as the config enables them, until SIGTERM or
SIGINT (Ctrl-C). Logs are JSON lines on stdout (pino): \`| jq -r .msg\` shows just the messages.

options:
  --config FILE      the appliance config (default: the embedded ${EMBEDDED_CONFIG_PATH})
                     edits are picked up within 2 s; an invalid edit keeps the last good config running
  --log-level LEVEL  ${LEVELS.join(', ')} (default: info, or env NETBOOT_LOG_LEVEL)

signals: SIGTERM/SIGINT stop the services and exit 0 (a second one exits at once); SIGHUP re-reads the config.
exit codes: 0 stopped cleanly, 1 invalid config or another failure, 2 a port cannot be bound or bad arguments.`

interface ServeArgs { config: string, logLevel?: string }

function parse (argv: string[], io: CliIO): ServeArgs | number {
  try {
    const { values } = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: { config: { type: 'string', short: 'c' }, 'log-level': { type: 'string' } }
    })
    const logLevel = values['log-level']
    if (logLevel !== undefined && !LEVELS.includes(logLevel)) throw new Error(`--log-level must be one of ${LEVELS.join(', ')}`)
    return { config: values.config ?? EMBEDDED_CONFIG_PATH, logLevel }
  } catch (err) {
    io.err(`netboot serve: ${(err as Error).message}`)
    io.err('run `netboot serve --help` for usage')
    return 2
  }
}

/** What a service listens on, for the start-up log (a service may describe itself; else read from config). */
export function listenDescription (s: Service, cfg: AppConfig): string {
  const own = (s as Service & { describe?: () => string }).describe
  if (typeof own === 'function') return own.call(s)
  const b = cfg.server.bind
  switch (s.name) {
    case 'http': return `http://${b}:${cfg.ports.http} (advertised as ${cfg.httpBaseUrl})`
    case 'tftp': return `udp ${b}:${cfg.ports.tftp}, root ${cfg.tftp.root}`
    case 'dhcp': return cfg.dhcp.mode === 'proxy'
      ? `udp ${b}:${cfg.ports.dhcp} and ${b}:${cfg.ports.proxyDhcp} (proxyDHCP, advertising ${cfg.server.address})`
      : `udp ${b}:${cfg.ports.dhcp} (full DHCP, advertising ${cfg.server.address})`
    default: return 'no sockets'
  }
}

/** Settings read once at start-up: a reload that changes them is applied only after a restart. */
function restartOnly (cfg: AppConfig): string {
  return JSON.stringify([cfg.server.bind, cfg.ports, cfg.paths.state, cfg.dhcp.mode, cfg.tftp.enabled, cfg.http.enabled])
}

async function loadConfig (path: string, log: Logger, io: CliIO): Promise<WatchedConfig | number> {
  try {
    return await watchConfig(path, { log })
  } catch (err) {
    const issues = (err as { issues?: ConfigIssue[] }).issues
    if (issues === undefined) throw err
    io.err(`netboot serve: invalid config ${path}: ${issues.length} error${issues.length === 1 ? '' : 's'}`)
    for (const i of issues) io.err(formatIssue(i))
    io.err('fix them (`netboot check-config FILE` re-checks) and start again')
    return 1
  }
}

async function openState (cfg: AppConfig, io: CliIO): Promise<Store | number> {
  try {
    return await openStore(cfg)
  } catch (err) {
    io.err(`netboot serve: ${(err as Error).message}`)
    return 1
  }
}

async function startApp (make: () => App, io: CliIO, log: Logger): Promise<App | number> {
  try {
    const app = make()
    await app.start()
    return app
  } catch (err) {
    if (err instanceof BindError || (err as { code?: string }).code === 'NB_ERR_BIND') {
      io.err(`netboot serve: ${(err as Error).message}`)
      return 2
    }
    log.error({ err }, 'start-up failed')
    io.err(`netboot serve: start-up failed: ${(err as Error).message}`)
    return 1
  }
}

export async function serve (argv: string[], io: CliIO): Promise<number> {
  const args = parse(argv, io)
  if (typeof args === 'number') return args
  const log = createLogger({ level: args.logLevel })
  const uninstall = installCrashHandlers(log)
  try {
    return await serveWith(args, log, io)
  } finally {
    uninstall()
  }
}

async function serveWith (args: ServeArgs, log: Logger, io: CliIO): Promise<number> {
  const watched = await loadConfig(args.config, log, io)
  if (typeof watched === 'number') return watched
  const cfg = watched.holder.current()
  const store = await openState(cfg, io)
  if (typeof store === 'number') { watched.close(); return store }

  const app = await startApp(() => build({ config: watched.holder, store, log, clock: systemClock }), io, log)
  if (typeof app === 'number') {
    await store.close().catch(() => {})
    watched.close()
    return app
  }
  for (const s of app.services) {
    const listen = listenDescription(s, cfg)
    log.info({ service: s.name, listen }, listen === 'no sockets' ? `${s.name} running (no sockets)` : `${s.name} listening on ${listen}`)
  }
  log.info({ config: cfg.source, state: storeDir(cfg), services: app.services.map(s => s.name), pid: process.pid }, 'netboot started')
  // Which PEs machines can boot: without one, a machine of that architecture with a deployment boots its disk.
  // amd64 is the PE every site needs (a warning when missing); arm64 only sites with arm64 machines.
  for (const pe of peStatus(cfg)) {
    const fields = { pe: pe.arch, dir: pe.dir }
    const missing = `no ${pe.arch} PE in ${pe.dir}: ${pe.arch} machines with a deployment boot their disks until \`${peBuildCommand(pe.arch)}\` builds it`
    if (pe.built) log.info(fields, `${pe.arch} PE ready`)
    else if (pe.arch === 'amd64') log.warn(fields, missing)
    else log.info(fields, missing)
  }
  const sb = await secureBootStatus(cfg)
  if (sb !== undefined && sb.missing.length === 0) log.info({ dir: sb.dir }, 'Secure Boot chain ready: x86-64 UEFI machines get shim → GRUB')
  if (sb !== undefined && sb.missing.length > 0) {
    log.warn({ dir: sb.dir, missing: sb.missing }, `bootLoaders.secureBoot is on but ${sb.missing.join(' and ')} ${sb.missing.length === 1 ? 'is' : 'are'} not in ${sb.dir}: x86-64 UEFI machines are offered a loader they cannot download (scripts/fetch-trixie-loaders.sh fetches it)`)
  }
  const missing = missingServeFlags()
  if (missing.length > 0) {
    log.info({ missing }, `node was started without ${missing.join(' ')} (src/runtime/node-flags.ts): after idle periods the first replies of a boot storm are slower; systemd/netboot.service and npm start pass them`)
  }

  const startedWith = restartOnly(cfg)
  const unwatch = watched.holder.onChange((next) => {
    if (restartOnly(next) !== startedWith) log.warn('config changed server.bind, ports, paths.state, dhcp.mode or tftp/http enabled: restart netboot to apply those')
  })
  return await runUntilSignal(log, watched, async () => {
    unwatch()
    await app.stop()
    await store.close()
    watched.close()
  })
}

/**
 * A bug that escapes every handler: an uncaught exception leaves the process in an unknown state, so log it
 * (the journal keeps it) and exit 1 — systemd restarts the daemon. A stray rejected promise is logged and the
 * daemon keeps serving: one bad request must not stop PXE for every machine on the network.
 */
export function installCrashHandlers (log: Logger): () => void {
  const onException = (err: Error): void => {
    log.fatal({ err }, 'uncaught exception: exiting (systemd restarts the service)')
    process.exit(1)
  }
  const onRejection = (reason: unknown): void => { log.error({ err: reason }, 'unhandled promise rejection (a bug): still serving') }
  process.on('uncaughtException', onException)
  process.on('unhandledRejection', onRejection)
  return () => {
    process.off('uncaughtException', onException)
    process.off('unhandledRejection', onRejection)
  }
}

/** Resolve with the exit code once a stop signal has been handled; a second signal exits at once. */
export async function runUntilSignal (
  log: Logger, watched: Pick<WatchedConfig, 'reload'>, stop: () => Promise<void>, stopTimeoutMs = STOP_TIMEOUT_MS
): Promise<number> {
  // Nothing else may hold the event loop open when every service is disabled: keep it alive ourselves.
  const keepAlive = setInterval(() => {}, 1 << 30)
  const onHup = (): void => {
    log.info('SIGHUP: re-reading the config')
    watched.reload().catch((err) => log.error({ err }, 'config reload failed'))
  }
  process.on('SIGHUP', onHup)
  const signal = await new Promise<NodeJS.Signals>(resolve => {
    const first = (sig: NodeJS.Signals): void => {
      process.off('SIGTERM', first)
      process.off('SIGINT', first)
      resolve(sig)
    }
    process.on('SIGTERM', first)
    process.on('SIGINT', first)
  })
  const force = (again: NodeJS.Signals): void => {
    log.warn({ signal: again }, 'second signal: exiting without a clean stop')
    process.exit(1)
  }
  process.once('SIGTERM', force)
  process.once('SIGINT', force)
  log.info({ signal }, 'stopping')
  const timer = setTimeout(() => { log.error(`stop took over ${stopTimeoutMs} ms: exiting anyway`); process.exit(1) }, stopTimeoutMs)
  try {
    await stop()
    log.info('stopped')
    return 0
  } catch (err) {
    log.error({ err }, 'stop failed')
    return 1
  } finally {
    clearTimeout(timer)
    clearInterval(keepAlive)
    process.off('SIGHUP', onHup)
    process.off('SIGTERM', force)
    process.off('SIGINT', force)
  }
}

export const command: CliCommand = {
  name: 'serve',
  summary: 'run the appliance (proxyDHCP, TFTP, HTTP) until stopped',
  usage,
  run: serve
}
