// Store errors. Every failure of the underlying database surfaces as a StoreError (code NB_ERR_STORE) whose
// `cause` is the original error, so callers can log it and answer 503 / stay silent without knowing about level.
import { createError, StoreError } from '../errors.js'

/** The database is held by another process (LevelDB takes an exclusive LOCK file). */
export const StoreLockedError = createError('NB_ERR_STORE_LOCKED', '%s', 503)

/** Wrap any error as a StoreError that names the operation and keeps the original as `cause`. */
export function storeError (op: string, cause: unknown): InstanceType<typeof StoreError> {
  if (cause instanceof StoreError) return cause
  const why = cause instanceof Error ? cause.message : String(cause)
  const err = new StoreError(`${op}: ${why}`)
  ;(err as Error).cause = cause
  return err
}
