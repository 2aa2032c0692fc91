// Hot reload: watch the config file, reload it on change, swap the frozen config atomically. A bad edit
// (or a deleted file) keeps the last good config serving and is reported in the log and in status().
import { watch as fsWatch, type FSWatcher } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { basename, dirname, resolve } from 'node:path'
import type { Logger } from '../log.js'
import type { AppConfig } from './schema.js'
import type { ConfigHolder, ConfigStatus } from './holder.js'
import { formatIssue, type ConfigIssue } from './issues.js'
import { ConfigInvalidError } from './errors.js'
import { loadConfigText, type LoadOptions } from './load.js'

export interface WatchedConfig {
  holder: ConfigHolder
  /** Re-read and re-validate now, even if the file did not change (e.g. after a WIM was added). */
  reload (): Promise<ConfigStatus>
  close (): void
}

export interface WatchOptions {
  log: Logger
  /** polling fallback period (default 1000 ms): fs.watch misses events on some filesystems (NFS, bind mounts) */
  intervalMs?: number
  /** quiet time after a change event before reading (editors write in several steps; default 100 ms) */
  debounceMs?: number
  /** use fs.watch on the directory besides polling (default true; false = polling only) */
  fsWatch?: boolean
  load?: LoadOptions
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex')
/** Nothing but whitespace and comments. */
const isBlank = (text: string): boolean => text.split('\n').every(l => /^\s*(#.*)?$/.test(l))

async function readText (file: string): Promise<{ text: string, bytes: number } | { issue: ConfigIssue }> {
  try {
    const buf = await readFile(file)
    return { text: buf.toString('utf8'), bytes: buf.length }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    return { issue: { file, line: 0, column: 0, path: '', message: `cannot read config (${code}); still serving the last good config`, hint: code === 'ENOENT' ? 'the file was deleted or renamed: restore it' : undefined } }
  }
}

/** The running config and the last load attempt; attempt() re-reads the file and swaps on success. */
class Reloader {
  current: AppConfig
  status: ConfigStatus
  readonly listeners = new Set<(cfg: AppConfig) => void>()
  closed = false
  private lastHash: string
  private chain: Promise<unknown> = Promise.resolve()
  /** set by watchConfig: schedule another attempt (debounced) */
  retry: () => void = () => {}

  constructor (readonly file: string, private readonly opts: WatchOptions, text: string, cfg: AppConfig, warnings: ConfigIssue[]) {
    const now = new Date().toISOString()
    this.current = cfg
    this.lastHash = sha256(text)
    this.status = { ok: true, source: file, loadedAt: now, checkedAt: now, errors: [], warnings }
  }

  /** Attempts run one at a time, in order. `force` re-validates even if the text did not change. */
  run (force: boolean): Promise<ConfigStatus> {
    const p = this.chain.then(async () => await this.attempt(force))
    this.chain = p.catch(() => {})
    return p
  }

  private async attempt (force: boolean): Promise<ConfigStatus> {
    if (this.closed) return this.status
    const log = this.opts.log
    const got = await readText(this.file)
    const checkedAt = new Date().toISOString()
    if ('issue' in got) {
      if (this.lastHash !== 'unreadable') log.error(formatIssue(got.issue))
      this.lastHash = 'unreadable'
      this.status = { ...this.status, ok: false, checkedAt, errors: [got.issue], warnings: [] }
      return this.status
    }
    if (await sizeOf(this.file) !== got.bytes) {
      this.retry()                      // read while being written: look again once the writer is done
      return this.status
    }
    const hash = sha256(got.text)
    if (hash === this.lastHash && !force) return this.status      // a touch, or a watch event for our own read
    this.lastHash = hash
    if (isBlank(got.text)) {
      // An empty file is a valid config of defaults, but on a reload it is a save caught between truncate and
      // write (or an accident): applying it would drop every advertisement. The write's own event follows.
      const issue: ConfigIssue = { file: this.file, line: 0, column: 0, path: '', message: 'config file is empty; still serving the last good config', hint: 'a save in progress, or the file was truncated: restore its content' }
      log.error(formatIssue(issue))
      this.status = { ...this.status, ok: false, checkedAt, errors: [issue], warnings: [] }
      return this.status
    }
    const res = await loadConfigText(got.text, this.file, this.opts.load)
    if (this.closed) return this.status
    if (!res.ok) {
      log.error({ errors: res.errors.length }, `config ${this.file} is invalid; still serving the config loaded at ${this.status.loadedAt}`)
      for (const e of res.errors) log.error(formatIssue(e))
      this.status = { ...this.status, ok: false, checkedAt, errors: res.errors, warnings: res.warnings }
      return this.status
    }
    for (const w of res.warnings) log.warn(formatIssue(w, 'warning'))
    this.current = res.config          // the swap: one assignment, readers see the old or the new config, never a mix
    this.status = { ok: true, source: this.file, loadedAt: checkedAt, checkedAt, errors: [], warnings: res.warnings }
    log.info({ source: this.file }, 'config reloaded')
    for (const fn of [...this.listeners]) {
      try { fn(this.current) } catch (err) { log.error({ err }, 'config change listener failed') }
    }
    return this.status
  }
}

/** Load `path` (rejecting with ConfigInvalidError if it is invalid) and keep it up to date. */
export async function watchConfig (path: string, opts: WatchOptions): Promise<WatchedConfig> {
  const file = resolve(path)
  const first = await readText(file)
  if ('issue' in first) throw new ConfigInvalidError(file, [{ ...first.issue, message: first.issue.message.replace(/; still.*$/, '') }])
  const initial = await loadConfigText(first.text, file, opts.load)
  if (!initial.ok) throw new ConfigInvalidError(file, initial.errors)
  for (const w of initial.warnings) opts.log.warn(formatIssue(w, 'warning'))
  const r = new Reloader(file, opts, first.text, initial.config, initial.warnings)

  let debounce: NodeJS.Timeout | undefined
  const schedule = (): void => {
    if (r.closed) return
    if (debounce !== undefined) clearTimeout(debounce)
    debounce = setTimeout(() => {
      debounce = undefined
      r.run(false).catch((err) => opts.log.error({ err }, 'config reload failed'))
    }, opts.debounceMs ?? 100)
    debounce.unref()
  }
  // Watch the directory, not the file: editors save by writing a temp file and renaming it over the old one,
  // which leaves a watch on the old inode deaf. Polling catches what fs.watch misses (NFS, some bind mounts).
  r.retry = schedule
  const watcher = opts.fsWatch === false ? undefined : watchDir(file, schedule, opts.log)
  let lastStat = await statKey(file)
  const poll = setInterval(() => {
    statKey(file).then((k) => { if (k !== lastStat) { lastStat = k; schedule() } }, () => {})
  }, opts.intervalMs ?? 1000)
  poll.unref()

  const holder: ConfigHolder = {
    current: () => r.current,
    status: () => r.status,
    onChange (fn) {
      r.listeners.add(fn)
      return () => { r.listeners.delete(fn) }
    }
  }
  return {
    holder,
    reload: async () => await r.run(true),
    close () {
      r.closed = true
      clearInterval(poll)
      if (debounce !== undefined) clearTimeout(debounce)
      watcher?.close()
      r.listeners.clear()
    }
  }
}

/** fs.watch on the file's directory; undefined (polling only) when the platform refuses. */
function watchDir (file: string, onChange: () => void, log: Logger): FSWatcher | undefined {
  try {
    const w = fsWatch(dirname(file), { persistent: false }, (_event, name) => {
      if (name === null || name === basename(file)) onChange()
    })
    w.on('error', (err) => { log.warn({ err }, 'config directory watch failed; polling only'); w.close() })
    return w
  } catch (err) {
    log.warn({ err }, 'cannot watch the config directory; polling only')
    return undefined
  }
}

async function sizeOf (file: string): Promise<number> {
  return await stat(file).then(s => s.size, () => -1)
}

async function statKey (file: string): Promise<string> {
  try {
    const s = await stat(file)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch {
    return 'missing'
  }
}
