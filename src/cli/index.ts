// The `netboot` command line: a registry of CliCommand modules (one file per subcommand, each exporting
// `command`) and runCli(argv, io) → exit code. Modules are imported at start-up and a missing file is skipped,
// so subcommands appear in `netboot --help` as their files land.
import { existsSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { CliCommand, CliIO } from './command.js'
import { suggestCommand } from './suggest.js'

/** Subcommand modules under src/cli/, in the order `netboot --help` lists them. */
export const COMMAND_MODULES: readonly string[] = [
  'serve', 'check-config', 'whatif', 'machines', 'deployments', 'images', 'media', 'pe', 'lab'
]

export interface LoadedCommands {
  commands: CliCommand[]
  /** modules that exist but failed to load: listed in help so the failure is not silent */
  broken: Array<{ module: string, error: string }>
}

/** This directory's own files that are not subcommands. */
const NOT_COMMANDS = new Set(['index', 'command', 'suggest'])

/** Modules of src/cli/ beyond COMMAND_MODULES (a command added later, or a helper without `command`). */
function otherModules (): string[] {
  const names = readdirSync(new URL('.', import.meta.url))
    .filter(f => /\.(ts|js)$/.test(f) && !f.endsWith('.d.ts'))
    .map(f => f.replace(/\.(ts|js)$/, ''))
  return [...new Set(names)].filter(n => !NOT_COMMANDS.has(n) && !COMMAND_MODULES.includes(n)).sort()
}

/** Whether src/cli/<module> exists, as .ts (run through tsx) or .js (compiled to dist/). */
function moduleExists (module: string): boolean {
  return ['.js', '.ts'].some(ext => existsSync(new URL(`./${module}${ext}`, import.meta.url)))
}

/**
 * Import every subcommand module that exists: the listed ones in their order, then (when listing them all)
 * any other file of src/cli/ that exports a `command`, so a new subcommand shows up without editing this file.
 */
export async function loadCommands (modules: readonly string[] = COMMAND_MODULES): Promise<LoadedCommands> {
  const commands: CliCommand[] = []
  const broken: LoadedCommands['broken'] = []
  const extra = modules === COMMAND_MODULES ? otherModules() : []
  await Promise.all([...modules, ...extra].map(async (m, i) => {
    if (!moduleExists(m)) return
    try {
      const mod = await import(`./${m}.js`) as { command?: CliCommand }
      const isExtra = i >= modules.length
      if (mod.command === undefined || typeof mod.command.run !== 'function') {
        if (isExtra) return                 // a helper module, not a subcommand
        throw new Error(`src/cli/${m} exports no \`command\``)
      }
      commands[i] = mod.command
    } catch (err) {
      // The file is there but does not load: say so in help instead of hiding the command.
      broken.push({ module: m, error: (err as Error).message })
    }
  }))
  return { commands: commands.filter(c => c !== undefined), broken }
}

async function version (): Promise<string> {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'netboot-appliance') return pkg.version ?? 'unknown'
    } catch {}
  }
  return 'unknown'
}

export function generalHelp (loaded: LoadedCommands): string {
  const width = Math.max(8, ...loaded.commands.map(c => c.name.length))
  const lines = [
    'netboot — PXE network-boot server and OS deployment appliance',
    '',
    'usage: netboot COMMAND [options]',
    '       netboot COMMAND --help     options of one command',
    '',
    'commands:',
    ...loaded.commands.map(c => `  ${c.name.padEnd(width)}  ${c.summary}`)
  ]
  for (const b of loaded.broken) lines.push(`  ${b.module.padEnd(width)}  (unavailable: ${b.error.split('\n')[0] ?? ''})`)
  lines.push('', 'global options: --help, --version')
  return lines.join('\n')
}

/** Run the command line. Returns the exit code: 0 ok, 1 failure, 2 usage error. */
export async function runCli (argv: readonly string[], io: CliIO, loaded?: LoadedCommands): Promise<number> {
  const [first, ...rest] = argv
  // `netboot NAME …` imports only NAME's module (start-up stays fast); help and typos load them all.
  const direct = first !== undefined && COMMAND_MODULES.includes(first) ? [first] : COMMAND_MODULES
  let reg = loaded ?? await loadCommands(direct)
  if (reg.commands.length === 0 && reg.broken.length === 0 && direct !== COMMAND_MODULES) reg = await loadCommands()
  if (first === undefined) {
    io.err(generalHelp(reg))
    return 2
  }
  if (first === '--help' || first === '-h') { io.out(generalHelp(reg)); return 0 }
  if (first === '--version' || first === '-V') { io.out(await version()); return 0 }
  const helpOf = first === 'help' ? rest[0] : undefined
  if (first === 'help' && helpOf === undefined) { io.out(generalHelp(reg)); return 0 }
  const name = helpOf ?? first
  const cmd = reg.commands.find(c => c.name === name)
  if (cmd === undefined) return unknown(name, reg, io)
  if (helpOf !== undefined || rest[0] === '--help' || rest[0] === '-h') { io.out(cmd.usage); return 0 }
  try {
    return await cmd.run(rest, io)
  } catch (err) {
    const e = err as Error & { code?: string }
    io.err(`netboot ${cmd.name}: ${e.message}${e.code !== undefined ? ` [${e.code}]` : ''}`)
    if (process.env.NETBOOT_DEBUG !== undefined) io.err(e.stack ?? '')
    return 1
  }
}

function unknown (name: string, reg: LoadedCommands, io: CliIO): number {
  const b = reg.broken.find(x => x.module === name)
  if (b !== undefined) {
    io.err(`netboot: command '${name}' failed to load: ${b.error}`)
    return 1
  }
  const near = suggestCommand(name, reg.commands.map(c => c.name))
  io.err(`netboot: unknown command '${name}'${near !== undefined ? ` — did you mean '${near}'?` : ''}`)
  io.err('run `netboot --help` for the list of commands')
  return 2
}
