// Errors across the thread boundary (protocol.ts WireError). Structured clone keeps an Error's message but not its
// class or code, and the CLI tells a BindError (exit 2, "stop dnsmasq or change ports:") from any other failure.
import { BindError, NetbootError } from '../../errors.js'
import type { WireError } from './protocol.js'

export function toWireError (err: unknown): WireError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) }
  const w: WireError = { name: err.name, message: err.message, stack: err.stack }
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string') w.code = code
  if (err instanceof BindError) {
    const cause = err.cause as NodeJS.ErrnoException | undefined
    w.bind = { service: err.service, address: err.address, port: err.port, cause: { code: cause?.code, message: cause?.message ?? '' } }
  }
  return w
}

/** The error to reject with on this side: a BindError again, a NetbootError when it had a code, else an Error. */
export function fromWireError (w: WireError): Error {
  if (w.bind !== undefined) {
    const cause = Object.assign(new Error(w.bind.cause.message), { code: w.bind.cause.code }) as NodeJS.ErrnoException
    return new BindError(w.bind.service, w.bind.address, w.bind.port, cause)
  }
  const err = w.code !== undefined ? new NetbootError(w.code, w.message) : new Error(w.message)
  err.name = w.name
  if (w.stack !== undefined) err.stack = w.stack
  return err
}
