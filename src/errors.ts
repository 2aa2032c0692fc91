// Errors are classes with stable codes (fastify style). A code never changes once shipped: logs, the
// admin API and tests match on it.

export class NetbootError extends Error {
  readonly code: string
  readonly statusCode: number
  constructor (code: string, message: string, statusCode = 500, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NetbootError'
    this.code = code
    this.statusCode = statusCode
  }
}

/** Build an error class with a fixed code and status, e.g. `createError('NB_ERR_NOT_FOUND', 'no machine %s', 404)`. */
export function createError (code: string, template: string, statusCode = 500) {
  return class extends NetbootError {
    constructor (...args: Array<string | number>) {
      let i = 0
      super(code, template.replace(/%s/g, () => String(args[i++] ?? '')), statusCode)
    }
  }
}

export const NotFoundError = createError('NB_ERR_NOT_FOUND', '%s', 404)
export const ConflictError = createError('NB_ERR_CONFLICT', '%s', 409)
export const BadRequestError = createError('NB_ERR_BAD_REQUEST', '%s', 400)
export const UnauthorizedError = createError('NB_ERR_UNAUTHORIZED', '%s', 401)
export const ForbiddenError = createError('NB_ERR_FORBIDDEN', '%s', 403)
export const StoreError = createError('NB_ERR_STORE', 'state store failure: %s', 503)

/**
 * A socket could not be bound. The message says what to do, because this is what an admin sees first
 * when another DHCP/TFTP server (dnsmasq, tftpd-hpa, WDS) already holds the port or privileges are missing.
 */
export class BindError extends NetbootError {
  constructor (readonly service: string, readonly address: string, readonly port: number, cause: NodeJS.ErrnoException) {
    const what = `${service} cannot bind ${address}:${port} (${cause.code ?? cause.message})`
    let hint = ''
    if (cause.code === 'EADDRINUSE') {
      hint = `another program already uses port ${port}: stop it (dnsmasq, isc-dhcp-server, tftpd-hpa, atftpd?) ` +
        '— `ss -lunp` shows which — or set another port under `ports:` in the config'
    } else if (cause.code === 'EACCES' || cause.code === 'EPERM') {
      hint = `ports below 1024 need root or CAP_NET_BIND_SERVICE (see systemd/netboot.service), or set ports above 1024 under \`ports:\``
    } else if (cause.code === 'EADDRNOTAVAIL') {
      hint = `${address} is not an address of this machine: fix server.bind in the config`
    }
    super('NB_ERR_BIND', hint !== '' ? `${what}: ${hint}` : what, 500, { cause })
    this.name = 'BindError'
  }
}
