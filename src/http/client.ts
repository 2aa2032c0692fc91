// A small client of the admin API for the CLI (`netboot machines|deployments`): the daemon holds the state store,
// so the CLI asks it over HTTP. Errors keep the server's {code, message}; an unreachable daemon says so plainly.
import type { AppConfig } from '../config/schema.js'
import { NetbootError } from '../errors.js'

export const UnreachableCode = 'NB_ERR_ADMIN_UNREACHABLE'

/** Where the CLI reaches the daemon on this machine: loopback when it binds every address (the admin API
 * answers loopback callers without a token), else the bound address itself. */
export function defaultAdminUrl (cfg: Pick<AppConfig, 'server' | 'ports'>): string {
  const bind = cfg.server.bind
  const host = bind === '0.0.0.0' || bind === '' || bind === '::' ? '127.0.0.1' : bind
  return `http://${host.includes(':') ? `[${host}]` : host}:${cfg.ports.http}`
}

export interface AdminClient {
  readonly url: string
  call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>
}

export function adminClient (url: string, token: string | undefined): AdminClient {
  const base = url.replace(/\/+$/, '')
  return {
    url: base,
    async call<T> (method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = {}
      if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`
      if (body !== undefined) headers['content-type'] = 'application/json'
      let r: Response
      try {
        r = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(30000) })
      } catch (err) {
        const cause = (err as Error).cause
        const why = cause instanceof Error ? cause.message : (err as Error).message
        throw new NetbootError(UnreachableCode, `cannot reach the appliance's admin API at ${base} (${why}): is \`netboot serve\` running? Use --url to point elsewhere`, 503)
      }
      const text = await r.text()
      let json: unknown
      try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
      if (!r.ok) {
        const e = json as { code?: string, message?: string } | undefined
        throw new NetbootError(e?.code ?? 'NB_ERR_ADMIN_API', e?.message ?? `${method} ${path}: HTTP ${r.status}`, r.status)
      }
      return json as T
    }
  }
}
