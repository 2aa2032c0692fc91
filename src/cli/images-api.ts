// The image operations `netboot images` runs: on the state store directly, or through the daemon's admin API
// when the daemon holds the store (LevelDB's lock): same results, same error codes.
import { resolve } from 'node:path'
import type { AppConfig } from '../config/schema.js'
import { NetbootError } from '../errors.js'
import type { Store } from '../store/types.js'
import { createImageStore, type CatalogImage, type RemoveResult, type VerifyReport } from '../images/store.js'

export interface ImagesApi {
  /** 'local' or the admin API URL */
  readonly via: string
  list (): Promise<CatalogImage[]>
  info (id: string): Promise<CatalogImage>
  verify (id: string): Promise<VerifyReport>
  add (path: string, id: string, move: boolean): Promise<CatalogImage>
  remove (id: string, force: boolean): Promise<RemoveResult>
  close (): Promise<void>
}

export function localApi (cfg: AppConfig, store: Store): ImagesApi {
  const s = createImageStore({ catalog: store.images, dir: cfg.paths.images, config: () => cfg })
  return {
    via: 'local',
    list: async () => await s.list(),
    info: async (id) => await s.info(id),
    verify: async (id) => await s.verify(id),
    add: async (path, id, move) => await s.add(resolve(path), id, { move }),
    remove: async (id, force) => await s.remove(id, { force }),
    close: async () => { await store.close() }
  }
}

/** Where the CLI reaches the daemon's HTTP service on this machine. */
export function adminBaseUrl (cfg: AppConfig): string {
  const host = cfg.server.bind === '0.0.0.0' || cfg.server.bind === '' ? '127.0.0.1' : cfg.server.bind
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.ports.http}`
}

export function remoteApi (cfg: AppConfig | undefined, base = adminBaseUrl(cfg as AppConfig), tokenOverride?: string): ImagesApi {
  // The token the daemon checks: its config's http.adminToken, else NETBOOT_ADMIN_TOKEN (src/http/auth.ts).
  const token = tokenOverride ?? cfg?.http.adminToken ?? process.env.NETBOOT_ADMIN_TOKEN
  async function call<T> (method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {}
    if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let r: Response
    try {
      r = await fetch(`${base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    } catch (err) {
      throw new NetbootError('NB_ERR_ADMIN_UNREACHABLE',
        `the admin API at ${base} does not answer (the state store is locked by a running daemon, or --url was given): ${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}`, 503)
    }
    const text = await r.text()
    const json = text === '' ? undefined : JSON.parse(text) as unknown
    if (!r.ok) {
      const e = json as { code?: string, message?: string } | undefined
      throw new NetbootError(e?.code ?? 'NB_ERR_ADMIN_API', e?.message ?? `${method} ${path}: HTTP ${r.status}`, r.status)
    }
    return json as T
  }
  const enc = encodeURIComponent
  return {
    via: base,
    list: async () => await call('GET', '/api/v1/images'),
    info: async (id) => await call('GET', `/api/v1/images/${enc(id)}`),
    verify: async (id) => await call('POST', `/api/v1/images/${enc(id)}/verify`),
    add: async (path, id, move) => await call('POST', '/api/v1/images', { id, path: resolve(path), move }),
    remove: async (id, force) => await call('DELETE', `/api/v1/images/${enc(id)}${force ? '?force=1' : ''}`),
    close: async () => {}
  }
}
