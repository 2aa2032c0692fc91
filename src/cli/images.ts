// `netboot images list | info ID | verify [ID] | add FILE --id ID [--move] | remove ID [--force]`
import type { CliCommand, CliIO } from './command.js'
import { loadConfigFile, EMBEDDED_CONFIG_PATH } from '../config/load.js'
import type { AppConfig } from '../config/schema.js'
import { openStore } from '../store/index.js'
import { formatBytes } from '../images/fsutil.js'
import type { CatalogImage } from '../images/store.js'
import { localApi, remoteApi, type ImagesApi } from './images-api.js'

const usage = `usage: netboot images list [--json]
       netboot images info ID [--json]
       netboot images verify [ID]          re-hash (all images without ID); exit 1 on any mismatch
       netboot images add FILE --id ID [--move]
       netboot images remove ID [--force]  refused while a task sequence uses it, unless --force

  --config FILE   the appliance config (default: ${EMBEDDED_CONFIG_PATH})
  --url URL       always go through this appliance's admin API (another host, or a daemon you know runs)
  --token TOKEN   admin token for --url or a running daemon (default: http.adminToken, then NETBOOT_ADMIN_TOKEN)
The image store is paths.images; the catalog lives in the state store (paths.state). When the daemon is running
it holds the state store, and these commands go through its admin API (http.adminToken or NETBOOT_ADMIN_TOKEN).`

const VERBS = ['list', 'info', 'verify', 'add', 'remove']

interface Args { verb?: string, pos: string[], config: string, id?: string, url?: string, token?: string, force: boolean, move: boolean, json: boolean }

function parse (argv: string[]): Args | string {
  const a: Args = { pos: [], config: EMBEDDED_CONFIG_PATH, force: false, move: false, json: false }
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]
    const value = (): string | undefined => argv[++i]
    if (v === '--force') a.force = true
    else if (v === '--move') a.move = true
    else if (v === '--json') a.json = true
    else if (v === '--config' || v === '--id' || v === '--url' || v === '--token') {
      const x = value()
      if (x === undefined) return `${v} needs a value`
      if (v === '--config') a.config = x
      else if (v === '--url') a.url = x
      else if (v === '--token') a.token = x
      else a.id = x
    } else if (v.startsWith('--')) return `unknown option '${v}'`
    else if (a.verb === undefined) a.verb = v
    else a.pos.push(v)
  }
  return a
}

async function open (cfg: AppConfig, a: Args): Promise<ImagesApi> {
  try {
    return localApi(cfg, await openStore(cfg))
  } catch (err) {
    if ((err as { code?: string }).code !== 'NB_ERR_STORE_LOCKED') throw err
    return remoteApi(cfg, undefined, a.token)
  }
}

function summary (e: CatalogImage): string {
  const names = e.wim.images.map(i => i.name).join(', ')
  return `${e.id.padEnd(20)} ${formatBytes(e.size).padStart(10)}  ${String(e.wim.imageCount).padStart(3)}  ${e.wim.compression.padEnd(6)} ${e.addedAt}  ${names}`
}

function details (e: CatalogImage): string[] {
  const w = e.wim
  const out = [
    `id:          ${e.id}`,
    `file:        ${e.file} (${e.size} bytes, ${formatBytes(e.size)})`,
    `sha256:      ${e.sha256}`,
    `added:       ${e.addedAt}`,
    `wim:         ${w.magic}${w.pipable ? ' (pipable)' : ''}, version 0x${w.version.toString(16)}, ${w.compression}` +
      `${w.compression !== 'none' ? ` chunks of ${w.chunkSize}` : ''}, part ${w.partNumber}/${w.totalParts}, GUID ${w.guid}`,
    `images:      ${w.imageCount}, boot index ${w.bootIndex}, total bytes ${w.totalBytes}`
  ]
  for (const i of w.images) {
    out.push('', `  [${i.index}] ${i.name}${i.description !== undefined ? ` — ${i.description}` : ''}`)
    if (i.displayName !== undefined) out.push(`      display name: ${i.displayName}`)
    if (i.edition !== undefined || i.arch !== undefined) out.push(`      edition: ${i.edition ?? '-'}   arch: ${i.arch ?? '-'}${i.windowsVersion !== undefined ? `   version: ${i.windowsVersion}` : ''}`)
    out.push(`      ${i.fileCount} files, ${i.dirCount} directories, ${i.totalBytes} bytes (${formatBytes(i.totalBytes)})`)
    out.push(`      created ${i.createdAt ?? '-'}, modified ${i.modifiedAt ?? '-'}`)
  }
  return out
}

async function verify (api: ImagesApi, ids: string[], io: CliIO): Promise<number> {
  const list = ids.length > 0 ? ids : (await api.list()).map(e => e.id)
  if (list.length === 0) { io.out('no images in the catalog'); return 0 }
  let bad = 0
  for (const id of list) {
    const r = await api.verify(id)
    if (r.ok) io.out(`${id}: OK (sha256 ${r.expectedSha256})`)
    else { bad++; io.err(`${id}: FAILED — ${r.problems.join('; ')}`) }
  }
  return bad === 0 ? 0 : 1
}

async function run (api: ImagesApi, a: Args, io: CliIO): Promise<number> {
  const need = (what: string): string | undefined => {
    const v = a.pos[0]
    if (v === undefined) io.err(`netboot images ${a.verb ?? ''}: ${what} missing\n${usage}`)
    return v
  }
  switch (a.verb) {
    case 'list': {
      const all = await api.list()
      if (a.json) { io.out(JSON.stringify(all, null, 2)); return 0 }
      if (all.length === 0) { io.out('no images in the catalog (add one: netboot images add FILE.wim --id ID)'); return 0 }
      io.out(`${'ID'.padEnd(20)} ${'SIZE'.padStart(10)}  IMG  COMPR  ADDED                     NAMES`)
      for (const e of all) io.out(summary(e))
      return 0
    }
    case 'info': {
      const id = need('ID'); if (id === undefined) return 2
      const e = await api.info(id)
      if (a.json) io.out(JSON.stringify(e, null, 2))
      else for (const l of details(e)) io.out(l)
      return 0
    }
    case 'verify': return await verify(api, a.pos, io)
    case 'add': {
      const file = need('FILE'); if (file === undefined) return 2
      if (a.id === undefined) { io.err(`netboot images add: --id ID missing\n${usage}`); return 2 }
      const e = await api.add(file, a.id, a.move)
      io.out(`added ${e.id}: ${e.wim.imageCount} image(s), ${formatBytes(e.size)}, sha256 ${e.sha256}`)
      return 0
    }
    case 'remove': {
      const id = need('ID'); if (id === undefined) return 2
      const r = await api.remove(id, a.force)
      io.out(`removed ${r.id} (${r.file})${r.forced ? ` although task sequence(s) ${r.referencedBy.join(', ')} use it` : ''}`)
      return 0
    }
    default:
      io.err(a.verb === undefined ? usage : `netboot images: unknown verb '${a.verb}'\n${usage}`)
      return 2
  }
}

export const command: CliCommand = {
  name: 'images',
  summary: 'the image store: list, info, verify, add and remove WIM images',
  usage,
  async run (argv, io) {
    const a = parse(argv)
    if (typeof a === 'string') { io.err(`netboot images: ${a}\n${usage}`); return 2 }
    if (a.verb === undefined) { io.err(usage); return 2 }
    if (!VERBS.includes(a.verb)) { io.err(`netboot images: unknown verb '${a.verb}'\n${usage}`); return 2 }
    const r = await loadConfigFile(a.config, { checkFiles: false })
    if (a.url !== undefined) {
      const api = remoteApi(r.ok ? r.config : undefined, a.url.replace(/\/+$/, ''), a.token)
      return await run(api, a, io)
    }
    if (!r.ok) {
      for (const e of r.errors) io.err(`${e.file}:${e.line}:${e.column}: ${e.message}`)
      return 1
    }
    const api = await open(r.config, a)
    try {
      return await run(api, a, io)
    } finally {
      await api.close()
    }
  }
}
