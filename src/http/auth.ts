// Who may call what. PE API: the deployment token is the deployment (the URL names none), so a token for D can
// never touch E. Admin API: a bearer token from config or env; without one, loopback callers only.
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { AppContext } from '../service.js'
import type { Deployment } from '../store/types.js'
import { UnauthorizedError } from '../errors.js'
import { AdminForbiddenError } from './errors.js'
import type { DeploymentsPort } from './deps.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The deployment whose token authenticated this PE API request (set by peAuth). */
    deployment?: Deployment
  }
}

/** `Authorization: Bearer <token>` (RFC 6750 §2.1; the scheme is case-insensitive). */
export function bearer (req: FastifyRequest): string | undefined {
  const h = req.headers.authorization
  const m = h === undefined ? null : /^\s*bearer\s+(\S+)\s*$/i.exec(h)
  return m === null ? undefined : m[1]
}

export function sameSecret (a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(h(a), h(b))
}

export function isLoopback (address: string | undefined): boolean {
  if (address === undefined) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4)
}

export function adminToken (ctx: AppContext): string | undefined {
  const t = ctx.config.current().http.adminToken ?? process.env.NETBOOT_ADMIN_TOKEN
  return t === undefined || t === '' ? undefined : t
}

/** onRequest hook of the admin API. */
export function adminAuth (ctx: AppContext) {
  return async (req: FastifyRequest): Promise<void> => {
    const want = adminToken(ctx)
    if (want === undefined) {
      if (isLoopback(req.socket.remoteAddress)) return
      throw new AdminForbiddenError('the admin API answers only on loopback when no admin token is set: ' +
        'set http.adminToken in the config (or NETBOOT_ADMIN_TOKEN) and send it as "Authorization: Bearer <token>"')
    }
    const got = bearer(req)
    if (got === undefined) throw new UnauthorizedError('admin API: missing "Authorization: Bearer <admin token>"')
    if (!sameSecret(got, want)) throw new UnauthorizedError('admin API: wrong admin token')
  }
}

/**
 * preHandler of the PE API: the bearer token (or `?token=` on routes iPXE fetches, which cannot send headers)
 * → request.deployment. An unknown or expired token is a 401 from deployments.authenticate.
 */
export function peAuth (deployments: DeploymentsPort) {
  return async (req: FastifyRequest): Promise<void> => {
    const allowQuery = (req.routeOptions.config as { queryToken?: boolean } | undefined)?.queryToken === true
    const fromQuery = allowQuery ? (req.query as { token?: string } | undefined)?.token : undefined
    const token = bearer(req) ?? fromQuery
    if (token === undefined) throw new UnauthorizedError('PE API: missing "Authorization: Bearer <deployment token>"')
    req.deployment = await deployments.authenticate(token)
  }
}
