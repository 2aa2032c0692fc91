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

async function readText (file: string): Promise<{ text: string } | { issue: ConfigIssue }> {
  try {
    return { text: await readFile(file, 'utf8') }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    return { issue: { file, line: 0, column: 0, path: '', message: `cannot read config (${code}); still serving the last good config`, hint: code === 'ENOENT' ? 'the file was deleted or renamed: restore it' : undefined } }
  }
}

/** Load `path` (rejecting with ConfigInvalidError if it is invalid) and keep it up to date. */
export async function watchConfig (path: string, opts: WatchOptions): Promise<WatchedConfig> {
  const file = resolve(path)
  const log = opts.log
  const first = await readText(file)
  if ('issue' in first) throw new ConfigInvalidError(file, [{ ...first.issue, message: first.issue.message.replace(/; still.*$/, '') }])
  const initial = await loadConfigText(first.text, file, opts.load)
  if (!initial.ok) throw new ConfigInvalidError(file, initial.errors)
  for (const w of initial.warnings) log.warn(formatIssue(w, 'warning'))

  let current: AppConfig = initial.config
  let lastHash = sha256(first.text)
  const now = new Date().toISOString()
  let status: ConfigStatus = { ok: true, source: file, loadedAt: now, checkedAt: now, errors: [], warnings: initial.warnings }
  const listeners = new Set<(cfg: AppConfig) => void>()
  let closed = false

  async function attempt (force: boolean): Promise<ConfigStatus> {
    if (closed) return status
    const got = await readText(file)
    const checkedAt = new Date().toISOString()
    if ('issue' in got) {
      if (lastHash !== 'unreadable') log.error(formatIssue(got.issue))
      lastHash = 'unreadable'
      status = { ...status, ok: false, checkedAt, errors: [got.issue], warnings: [] }
      return status
    }
    const hash = sha256(got.text)
    if (hash === lastHash && !force) return status
    lastHash = hash
    const res = await loadConfigText(got.text, file, opts.load)
    if (closed) return status
    if (!res.ok) {
      log.error({ errors: res.errors.length }, `config ${file} is invalid; still serving the config loaded at ${status.loadedAt}`)
      for (const e of res.errors) log.error(formatIssue(e))
      status = { ...status, ok: false, checkedAt, errors: res.errors, warnings: res.warnings }
      return status
    }
    for (const w of res.warnings) log.warn(formatIssue(w, 'warning'))
    current = res.config                     // the swap: one assignment, readers see old or new, never a mix
    status = { ok: true, source: file, loadedAt: checkedAt, checkedAt, errors: [], warnings: res.warnings }
    log.info({ source: file }, 'config reloaded')
    for (const fn of [...listeners]) {
      try { fn(current) } catch (err) { log.error({ err }, 'config change listener failed') }
    }
    return status
  }

  let chain: Promise<unknown> = Promise.resolve()
  const run = (force: boolean): Promise<ConfigStatus> => {
    const p = chain.then(async () => await attempt(force))
    chain = p.catch(() => {})
    return p
  }

  let debounce: NodeJS.Timeout | undefined
  const schedule = (): void => {
    if (closed) return
    if (debounce !== undefined) clearTimeout(debounce)
    debounce = setTimeout(() => {
      debounce = undefined
      run(false).catch((err) => log.error({ err }, 'config reload failed'))
    }, opts.debounceMs ?? 100)
    debounce.unref()
  }

  // Watch the directory, not the file: editors save by writing a temp file and renaming it over the old one,
  // which leaves a watch on the old inode deaf.
  const watcher = opts.fsWatch === false ? undefined : watchDir(file, schedule, log)

  let lastStat = await statKey(file)
  const poll = setInterval(() => {
    statKey(file).then((k) => {
      if (k !== lastStat) { lastStat = k; schedule() }
    }, () => {})
  }, opts.intervalMs ?? 1000)
  poll.unref()

  const holder: ConfigHolder = {
    current: () => current,
    status: () => status,
    onChange (fn) {
      listeners.add(fn)
      return () => { listeners.delete(fn) }
    }
  }
  return {
    holder,
    reload: async () => await run(true),
    close () {
      closed = true
      clearInterval(poll)
      if (debounce !== undefined) clearTimeout(debounce)
      watcher?.close()
      listeners.clear()
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

async function statKey (file: string): Promise<string> {
  try {
    const s = await stat(file)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch {
    return 'missing'
  }
}
