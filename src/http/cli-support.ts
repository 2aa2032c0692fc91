// What `netboot machines` and `netboot deployments` share: options, reaching the daemon, printing tables.
import { EMBEDDED_CONFIG_PATH, loadConfigFile } from '../config/load.js'
import { adminClient, defaultAdminUrl, type AdminClient } from './client.js'

export const COMMON_OPTIONS = `options:
  --url URL       the appliance's HTTP service (default: from the config's ports.http and server.bind)
  --token TOKEN   admin token (default: NETBOOT_ADMIN_TOKEN, then the config's http.adminToken)
  --config FILE   the appliance config (default: ${EMBEDDED_CONFIG_PATH})
  --json          print JSON instead of a table`

export interface AdminArgs { verb?: string, pos: string[], url?: string, token?: string, config: string, json: boolean }

export function parseAdminArgs (argv: string[]): AdminArgs | string {
  const a: AdminArgs = { pos: [], config: EMBEDDED_CONFIG_PATH, json: false }
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]
    if (v === '--json') { a.json = true; continue }
    if (v === '--url' || v === '--token' || v === '--config') {
      const x = argv[++i]
      if (x === undefined) return `${v} needs a value`
      if (v === '--url') a.url = x
      else if (v === '--token') a.token = x
      else a.config = x
      continue
    }
    if (v.startsWith('-')) return `unknown option '${v}'`
    if (a.verb === undefined) a.verb = v
    else a.pos.push(v)
  }
  return a
}

/** The client for these options; reads the config only for what the options leave open. */
export async function connect (a: AdminArgs): Promise<AdminClient> {
  let token = a.token ?? process.env.NETBOOT_ADMIN_TOKEN
  let url = a.url
  if (url === undefined || token === undefined) {
    const res = await loadConfigFile(a.config, { checkFiles: false })
    if (res.ok) {
      url ??= defaultAdminUrl(res.config)
      token ??= res.config.http.adminToken
    } else if (url === undefined) {
      throw new Error(`cannot read the config ${a.config} (${res.errors[0]?.message ?? 'invalid'}): give --url`)
    }
  }
  return adminClient(url, token)
}

/** Fixed-width columns, header first; empty cells print as '-'. */
export function table (header: string[], rows: string[][]): string[] {
  const cells = [header, ...rows.map(r => r.map(c => c === '' ? '-' : c))]
  const widths = header.map((_, i) => Math.max(...cells.map(r => (r[i] ?? '').length)))
  return cells.map(r => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i])).join('  ').trimEnd())
}

/** `key: value` lines for one object, in the order given; undefined values are left out. */
export function fields (pairs: Array<[string, unknown]>): string[] {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== '')
  const width = Math.max(...shown.map(([k]) => k.length))
  return shown.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${String(v)}`)
}
