// `netboot check-config [FILE]`: validate a config file the way the daemon would, print every problem as
// `file:line:col: error: message (hint: …)`, exit 1 if there are errors.
import type { CliCommand, CliIO } from './command.js'
import { EMBEDDED_CONFIG_PATH, loadConfigFile } from '../config/load.js'
import { formatIssue } from '../config/issues.js'
import type { AppConfig } from '../config/schema.js'

const usage = `usage: netboot check-config [FILE]

Validates FILE (default: the embedded ${EMBEDDED_CONFIG_PATH}) exactly as \`netboot serve\` and its hot reload
do: YAML syntax, every key and value, cross-references (advertisements → task sequences and collections,
applyImage → images and WIM indexes), duplicate and malformed MACs/UUIDs, protected machines reachable by a
required advertisement, DHCP pool sanity. Prints every error and warning with file:line:column.

Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage error.`

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`

export function summary (cfg: AppConfig): string {
  return [
    plural(cfg.images.length, 'image'),
    plural(cfg.taskSequences.length, 'task sequence'),
    plural(cfg.collections.length, 'collection'),
    plural(cfg.advertisements.length, 'advertisement'),
    plural(cfg.protected.length, 'protected machine')
  ].join(', ') + `; DHCP ${cfg.dhcp.mode}; advertised address ${cfg.server.address} (${cfg.httpBaseUrl})`
}

async function run (argv: string[], io: CliIO): Promise<number> {
  const files: string[] = []
  for (const a of argv) {
    if (a === '--help' || a === '-h') { io.out(usage); return 0 }
    if (a.startsWith('-') && a !== '-') { io.err(`netboot check-config: unknown option '${a}'`); io.err(usage); return 2 }
    files.push(a)
  }
  if (files.length > 1) { io.err('netboot check-config: give one FILE'); io.err(usage); return 2 }
  const shown = files[0] ?? EMBEDDED_CONFIG_PATH
  const res = await loadConfigFile(shown)
  // Print the file as the admin named it, so the lines can be pasted into an editor command.
  const named = <T extends { file: string }>(i: T): T => ({ ...i, file: i.file.startsWith('/') ? shown : i.file })
  if (!res.ok) {
    for (const e of res.errors) io.err(formatIssue(named(e)))
    for (const w of res.warnings) io.err(formatIssue(named(w), 'warning'))
    io.err(`${shown}: ${plural(res.errors.length, 'error')}${res.warnings.length > 0 ? `, ${plural(res.warnings.length, 'warning')}` : ''}; the config is not valid`)
    return 1
  }
  for (const w of res.warnings) io.err(formatIssue(named(w), 'warning'))
  const warned = res.warnings.length > 0 ? ` (${plural(res.warnings.length, 'warning')})` : ''
  io.out(`${shown}: OK${warned} — ${summary(res.config)}`)
  return 0
}

export const command: CliCommand = {
  name: 'check-config',
  summary: 'validate a config file and print every error with its line',
  usage,
  run
}
