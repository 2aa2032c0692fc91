// The `netboot` dispatcher (src/cli/index.ts): help, per-command usage, unknown commands, failures.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { runCli, loadCommands, COMMAND_MODULES, type LoadedCommands } from '../../src/cli/index.js'
import type { CliCommand } from '../../src/cli/command.js'
import { repo } from './serve-harness.js'

function io () {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (l: string) => { out.push(l) }, err: (l: string) => { err.push(l) } } }
}

const fake = (name: string, run: CliCommand['run']): CliCommand => ({ name, summary: `the ${name} summary`, usage: `usage: netboot ${name} [--x]`, run })
const reg: LoadedCommands = {
  commands: [
    fake('serve', async () => 0),
    fake('check-config', async (argv, io) => { io.out(`checked ${argv.join(' ')}`); return 3 }),
    fake('boom', async () => { throw Object.assign(new Error('disk on fire'), { code: 'NB_ERR_FIRE' }) })
  ],
  broken: [{ module: 'media', error: "Cannot find module 'xorriso-bindings'" }]
}

t.test('--help lists every command with its summary, and modules that failed to load', async t => {
  const c = io()
  t.equal(await runCli(['--help'], c.io, reg), 0)
  const text = c.out.join('\n')
  t.match(text, /usage: netboot COMMAND/)
  for (const cmd of reg.commands) t.match(text, new RegExp(`^  ${cmd.name} +the ${cmd.name} summary$`, 'm'))
  t.match(text, /^ {2}media +\(unavailable: Cannot find module 'xorriso-bindings'\)$/m)
  const h = io()
  t.equal(await runCli(['help'], h.io, reg), 0)
  t.same(h.out, c.out, '`netboot help` is the same')
})

t.test('no command: help on stderr, exit 2', async t => {
  const c = io()
  t.equal(await runCli([], c.io, reg), 2)
  t.match(c.err.join('\n'), /usage: netboot COMMAND/)
})

t.test('CMD --help, CMD -h and help CMD print that command\'s usage and do not run it', async t => {
  for (const argv of [['check-config', '--help'], ['check-config', '-h'], ['help', 'check-config']]) {
    const c = io()
    t.equal(await runCli(argv, c.io, reg), 0, argv.join(' '))
    t.same(c.out, ['usage: netboot check-config [--x]'])
  }
})

t.test('a command runs with its arguments and its exit code is returned', async t => {
  const c = io()
  t.equal(await runCli(['check-config', 'a.yaml', '--strict'], c.io, reg), 3)
  t.same(c.out, ['checked a.yaml --strict'])
})

t.test('unknown command: error, suggestion when close, exit 2', async t => {
  const c = io()
  t.equal(await runCli(['chek-config'], c.io, reg), 2)
  t.equal(c.err[0], "netboot: unknown command 'chek-config' — did you mean 'check-config'?")
  t.match(c.err[1], /netboot --help/)
  const far = io()
  t.equal(await runCli(['frobnicate'], far.io, reg), 2)
  t.equal(far.err[0], "netboot: unknown command 'frobnicate'")
})

t.test('a command module that fails to load says so, exit 1', async t => {
  const c = io()
  t.equal(await runCli(['media'], c.io, reg), 1)
  t.match(c.err[0], /command 'media' failed to load: Cannot find module 'xorriso-bindings'/)
})

t.test('a command that throws: one line with message and code, exit 1', async t => {
  const c = io()
  t.equal(await runCli(['boom'], c.io, reg), 1)
  t.same(c.err, ['netboot boom: disk on fire [NB_ERR_FIRE]'])
})

t.test('the real registry loads every command file that exists, serve included', async t => {
  const loaded = await loadCommands()
  t.same(loaded.broken, [], 'no command module fails to load')
  const names = loaded.commands.map(c => c.name)
  t.ok(names.includes('serve'))
  t.ok(names.every(n => COMMAND_MODULES.includes(n)), `commands: ${names.join(', ')}`)
  for (const c of loaded.commands) {
    t.ok(c.summary.length > 0 && !c.summary.includes('\n'), `${c.name}: one-line summary`)
    t.match(c.usage, new RegExp(`netboot ${c.name}`), `${c.name}: usage names the command`)
  }
})

t.test('the netboot executable: --help, --version, unknown command exit code', async t => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(repo, 'src/main.ts'), ...args], { cwd: repo, encoding: 'utf8' })
  const help = run('--help')
  t.equal(help.status, 0)
  t.match(help.stdout, /^ {2}serve +run the appliance/m)
  const v = run('--version')
  t.equal(v.status, 0)
  t.match(v.stdout, /^\d+\.\d+\.\d+\n$/)
  const bad = run('nope')
  t.equal(bad.status, 2)
  t.match(bad.stderr, /unknown command 'nope'/)
})
