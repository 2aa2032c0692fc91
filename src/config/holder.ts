// Holds the running config. A reload swaps it atomically; a bad edit keeps the last good one and is reported.
import type { AppConfig } from './schema.js'
import type { ConfigIssue } from './issues.js'

export interface ConfigStatus {
  ok: boolean
  source: string
  /** when the running config was loaded */
  loadedAt: string
  /** when the file was last read, good or bad */
  checkedAt: string
  /** errors of the last load attempt (empty when it succeeded) */
  errors: ConfigIssue[]
  warnings: ConfigIssue[]
}

export interface ConfigHolder {
  current (): AppConfig
  status (): ConfigStatus
  /** Called after a good reload with the new config. Returns an unsubscribe function. */
  onChange (fn: (cfg: AppConfig) => void): () => void
}

export function staticConfig (cfg: AppConfig): ConfigHolder {
  const now = new Date().toISOString()
  return {
    current: () => cfg,
    status: () => ({ ok: true, source: cfg.source, loadedAt: now, checkedAt: now, errors: [], warnings: [] }),
    onChange: () => () => {}
  }
}
