// Errors of the HTTP service, with stable codes (see src/errors.ts).
import { createError } from '../errors.js'

export const BadPathError = createError('NB_ERR_HTTP_BAD_PATH', 'path not allowed: %s', 400)
export const FileMissingError = createError('NB_ERR_HTTP_NO_FILE', '%s', 404)
export const RangeNotSatisfiableError = createError('NB_ERR_HTTP_RANGE', 'range not satisfiable: %s', 416)
export const AdminForbiddenError = createError('NB_ERR_HTTP_ADMIN_REMOTE', '%s', 403)
