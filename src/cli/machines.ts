// `netboot machines list | show MAC | reimage MAC | protect MAC | unprotect MAC` through the daemon's admin API.
import type { CliCommand, CliIO } from './command.js'
import type { Machine } from '../store/types.js'
import { COMMON_OPTIONS, connect, fields, parseAdminArgs, table } from '../http/cli-support.js'

const usage = `usage: netboot machines list [--json]
       netboot machines show MAC [--json]
       netboot machines reimage MAC      run its required deployments again on the next PXE boot
       netboot machines protect MAC      never give it a required deployment (site servers)
       netboot machines unprotect MAC

The inventory: every machine that has PXE-booted here. Asks the running daemon (\`netboot serve\`).
${COMMON_OPTIONS}`

const NEEDS_MAC = new Set(['show', 'reimage', 'protect', 'unprotect'])

function flags (m: Machine): string {
  return [m.protected === true ? 'protected' : '', m.reimageAfter !== undefined ? 'reimaged' : ''].filter(Boolean).join(',')
}

export function machineTable (list: Machine[]): string[] {
  return table(['MAC', 'ARCH', 'SERIAL', 'MANUFACTURER', 'PRODUCT', 'IP', 'LAST SEEN', 'FLAGS'],
    list.map(m => [m.mac, m.arch ?? '', m.serial ?? '', m.manufacturer ?? '', m.product ?? '', m.ip ?? '', m.lastSeen, flags(m)]))
}

export function machineFields (m: Machine): string[] {
  return fields([
    ['mac', m.mac], ['uuid', m.uuid], ['serial', m.serial], ['manufacturer', m.manufacturer], ['product', m.product],
    ['arch', m.arch], ['vendor class', m.vendorClass], ['ip', m.ip], ['first seen', m.firstSeen], ['last seen', m.lastSeen],
    ['protected', m.protected === true ? 'yes' : 'no'], ['reimage after', m.reimageAfter]
  ])
}

async function run (argv: string[], io: CliIO): Promise<number> {
  const a = parseAdminArgs(argv)
  if (typeof a === 'string' || a.verb === undefined || !['list', ...NEEDS_MAC].includes(a.verb) ||
      (NEEDS_MAC.has(a.verb) ? a.pos.length !== 1 : a.pos.length !== 0)) {
    io.err(`netboot machines: ${typeof a === 'string' ? a : a.verb === undefined ? 'give a verb' : `wrong use of '${a.verb}'`}`)
    io.err(usage)
    return 2
  }
  const api = await connect(a)
  const mac = encodeURIComponent(a.pos[0] ?? '')
  let shown: Machine | Machine[]
  switch (a.verb) {
    case 'list': shown = await api.call<Machine[]>('GET', '/api/v1/machines'); break
    case 'show': shown = await api.call<Machine>('GET', `/api/v1/machines/${mac}`); break
    case 'reimage': shown = await api.call<Machine>('POST', `/api/v1/machines/${mac}/reimage`); break
    default: shown = await api.call<Machine>('POST', `/api/v1/machines/${mac}/protect`, { protected: a.verb === 'protect' })
  }
  if (a.json) io.out(JSON.stringify(shown, null, 2))
  else if (Array.isArray(shown)) {
    if (shown.length === 0) io.out('no machines yet: a machine appears here once it PXE-boots from this appliance')
    else for (const l of machineTable(shown)) io.out(l)
  } else {
    if (a.verb === 'reimage') io.out(`${shown.mac}: its required deployments run again on its next PXE boot`)
    if (a.verb === 'protect') io.out(`${shown.mac}: protected, it never receives a required deployment`)
    if (a.verb === 'unprotect') io.out(`${shown.mac}: no longer protected`)
    if (a.verb === 'show') for (const l of machineFields(shown)) io.out(l)
  }
  return 0
}

export const command: CliCommand = {
  name: 'machines',
  summary: 'list, show, re-image and protect machines (the inventory)',
  usage,
  run
}
