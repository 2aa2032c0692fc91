// `netboot whatif`: what would this machine boot right now, and the chain of rules that led there.
// Asks the running daemon (GET /api/v1/whatif: the same explain() with the live inventory and history); when no
// daemon answers, loads the config and reads the state store itself.
import { existsSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { CliCommand } from './command.js'
import { EMBEDDED_CONFIG_PATH, loadConfigFile } from '../config/load.js'
import { ARCHES, type AppConfig, type Arch } from '../config/schema.js'
import { normalizeMac, normalizeUuid } from '../config/ids.js'
import { explain } from '../policy/decide.js'
import type { ClientIdentity } from '../policy/types.js'
import type { Deployment, Machine } from '../store/types.js'
import { openStore, storeDir } from '../store/index.js'
import { adminBaseUrl } from './images-api.js'
import { formatExplanation, type BootPreview } from '../policy/format.js'
import { deployBlocked } from '../pe/availability.js'

const usage = `usage: netboot whatif --mac MAC [--uuid UUID] [--serial S] [--arch ARCH] [--manufacturer M] [--product P]
                      [--config FILE] [--json] [--no-daemon]

Prints what the machine would boot right now — deploy a task sequence, a menu of available ones, or the
local disk — then the chain of rules that led there, the collections it is in and a verdict for every
advertisement.

  --mac MAC         the machine's MAC address, any usual spelling (52:54:00:12:34:56, 52-54-00-12-34-56, 5254.0012.3456)
  --uuid UUID       its SMBIOS UUID (with or without dashes or braces)
  --serial S        its serial number
  --arch ARCH       ${ARCHES.join(' | ')} (default: the inventory's, else bios)
  --manufacturer M, --product P   SMBIOS manufacturer and product, for rules that name them
  --config FILE     the appliance config (default: the embedded ${EMBEDDED_CONFIG_PATH})
  --json            print the explanation as JSON (what GET /api/v1/whatif returns)
  --no-daemon       do not ask the running daemon; evaluate from the config and the state store

Identity fields not given are taken from the inventory (machines the appliance has seen). The running daemon
is asked first (http.adminToken or NETBOOT_ADMIN_TOKEN when set); without one, the config and the state store
are read directly.`

interface Args {
  client: ClientIdentity
  archGiven: boolean
  config: string
  json: boolean
  daemon: boolean
}

type Parsed = { ok: true, args: Args } | { ok: false, message: string }

function parse (argv: string[]): Parsed {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        mac: { type: 'string' }, uuid: { type: 'string' }, serial: { type: 'string' }, arch: { type: 'string' },
        manufacturer: { type: 'string' }, product: { type: 'string' }, config: { type: 'string' },
        json: { type: 'boolean' }, 'no-daemon': { type: 'boolean' }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (err) {
    return { ok: false, message: (err as Error).message }
  }
  if (values.mac === undefined) return { ok: false, message: '--mac is required' }
  const mac = normalizeMac(values.mac)
  if (mac === undefined) return { ok: false, message: `not a MAC address: ${values.mac}` }
  if (values.arch !== undefined && !(ARCHES as readonly string[]).includes(values.arch)) {
    return { ok: false, message: `--arch must be one of ${ARCHES.join(', ')}, not ${values.arch}` }
  }
  const client: ClientIdentity = { mac, arch: (values.arch ?? 'bios') as Arch }
  if (values.uuid !== undefined) {
    const uuid = normalizeUuid(values.uuid)
    if (uuid === undefined) return { ok: false, message: `not an SMBIOS UUID: ${values.uuid}` }
    client.uuid = uuid
  }
  for (const k of ['serial', 'manufacturer', 'product'] as const) {
    const v = values[k]?.trim()
    if (v !== undefined && v !== '') client[k] = v
  }
  return {
    ok: true,
    args: { client, archGiven: values.arch !== undefined, config: values.config ?? EMBEDDED_CONFIG_PATH, json: values.json === true, daemon: values['no-daemon'] !== true }
  }
}

/** The daemon's explanation, or undefined (with a note when it answered but refused) to evaluate locally. */
async function askDaemon (cfg: AppConfig, a: Args, notes: string[]): Promise<BootPreview | undefined> {
  const q = new URLSearchParams({ mac: a.client.mac })
  if (a.archGiven) q.set('arch', a.client.arch)
  for (const k of ['uuid', 'serial', 'manufacturer', 'product'] as const) {
    const v = a.client[k]
    if (v !== undefined) q.set(k, v)
  }
  const url = `${adminBaseUrl(cfg)}/api/v1/whatif?${q.toString()}`
  const token = cfg.http.adminToken ?? process.env.NETBOOT_ADMIN_TOKEN
  const headers: Record<string, string> = token !== undefined && token !== '' ? { authorization: `Bearer ${token}` } : {}
  let r: Response
  try {
    r = await fetch(url, { headers, signal: AbortSignal.timeout(3000) })
  } catch {
    return undefined                           // no daemon listening: the usual case on an admin's workstation
  }
  const text = await r.text()
  if (!r.ok) {
    let why = `HTTP ${r.status}`
    try { why = (JSON.parse(text) as { message?: string }).message ?? why } catch {}
    if (r.status === 400) throw new Error(`the daemon refused the question: ${why}`)
    notes.push(`the daemon at ${adminBaseUrl(cfg)} answered ${r.status} (${why}); evaluated from the config instead`)
    return undefined
  }
  try {
    const e = JSON.parse(text) as BootPreview
    if (typeof e?.decision?.kind === 'string' && Array.isArray(e.decision.trace)) return e
  } catch {}
  notes.push(`the daemon at ${adminBaseUrl(cfg)} sent an answer that is not an explanation; evaluated from the config instead`)
  return undefined
}

/** Inventory record and history from the state store, when it exists and no daemon holds it. */
async function readState (cfg: AppConfig, mac: string, notes: string[]): Promise<{ machine?: Machine, history: Deployment[] }> {
  const dir = storeDir(cfg)
  if (!existsSync(dir)) {
    notes.push(`no state store at ${dir} yet: no inventory or deployment history considered`)
    return { history: [] }
  }
  let store
  try {
    store = await openStore(cfg)
  } catch (err) {
    notes.push(`state store not readable (${(err as Error).message}): no inventory or deployment history considered`)
    return { history: [] }
  }
  try {
    return { machine: await store.machines.get(mac), history: await store.deployments.listByMachine(mac) }
  } finally {
    await store.close()
  }
}

async function evaluate (cfg: AppConfig, a: Args): Promise<{ e: BootPreview, source: string, notes: string[] }> {
  const notes: string[] = []
  if (a.daemon) {
    const e = await askDaemon(cfg, a, notes)
    if (e !== undefined) return { e, source: `the running daemon (${adminBaseUrl(cfg)})`, notes }
  }
  const { machine, history } = await readState(cfg, a.client.mac, notes)
  // Same rule as the daemon's API: the arch given, else the inventory's, else BIOS.
  const client: ClientIdentity = { ...a.client, arch: a.archGiven ? a.client.arch : machine?.arch ?? 'bios' }
  if (!a.archGiven) notes.push(`arch not given: using ${client.arch}${machine?.arch !== undefined ? ' (inventory)' : ' (default)'}`)
  const e: BootPreview = explain({ config: cfg, client, machine, history, now: new Date() })
  const blocked = await deployBlocked(cfg, client.arch, e.decision)
  if (blocked !== undefined) e.blocked = blocked
  return { e, source: `config ${cfg.source} and state store ${storeDir(cfg)}`, notes }
}

export const command: CliCommand = {
  name: 'whatif',
  summary: 'show what a machine would boot now, and why',
  usage,
  async run (argv, io) {
    const p = parse(argv)
    if (!p.ok) {
      io.err(`netboot whatif: ${p.message}`)
      io.err(usage)
      return 2
    }
    const r = await loadConfigFile(p.args.config, { checkFiles: false })
    if (!r.ok) {
      io.err(`netboot whatif: the config ${p.args.config} is invalid:`)
      for (const e of r.errors) io.err(`  ${e.file}:${e.line}:${e.column}: ${e.message}${e.hint !== undefined ? ` (${e.hint})` : ''}`)
      return 1
    }
    const { e, source, notes } = await evaluate(r.config, p.args)
    if (p.args.json) {
      io.out(JSON.stringify(e, null, 2))
      for (const n of notes) io.err(`note: ${n}`)
      return 0
    }
    for (const line of formatExplanation(e, { source, notes, menuTimeoutSeconds: r.config.http.menuTimeoutSeconds })) io.out(line)
    return 0
  }
}
