// Structured logging (pino). One root logger; each protocol takes a child: log.child({ proto: 'dhcp' }).
import { pino, type Logger } from 'pino'

export type { Logger }

export interface LogOptions {
  level?: string
  /** Write somewhere other than stdout (tests pass a stream to assert on lines). */
  destination?: NodeJS.WritableStream
}

export function createLogger (opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.NETBOOT_LOG_LEVEL ?? 'info'
  return opts.destination !== undefined
    ? pino({ level, base: { svc: 'netboot' } }, opts.destination as any)
    : pino({ level, base: { svc: 'netboot' } })
}

/** A logger that drops everything: for unit tests that do not look at logs. */
export const silentLogger: Logger = pino({ level: 'silent' })
