// Typed errors of the image store and the WIM reader. Codes are stable: tests, logs and the admin API match on them.
import { NetbootError } from '../errors.js'

export type WimErrorCode =
  | 'NB_ERR_WIM_IO'            // the file could not be opened or read
  | 'NB_ERR_WIM_TRUNCATED'     // shorter than a header, or a pipable WIM without its final header
  | 'NB_ERR_WIM_BAD_MAGIC'     // neither MSWIM\0\0\0 nor WLPWM\0\0\0
  | 'NB_ERR_WIM_BAD_HEADER'    // header fields that contradict each other or the format
  | 'NB_ERR_WIM_OUT_OF_BOUNDS' // a resource (XML data, blob table…) extends beyond the end of the file
  | 'NB_ERR_WIM_BAD_XML'       // bad UTF-16, malformed XML, missing or malformed elements
  | 'NB_ERR_WIM_IMAGE_COUNT'   // header image count differs from the XML's <IMAGE> elements
  | 'NB_ERR_WIM_UNSUPPORTED'   // valid but not something we read (compressed XML resource, huge XML)

/** A WIM that cannot be read. `where` is a byte offset in the file (or the XML, for BAD_XML) when known. */
export class WimError extends NetbootError {
  readonly where?: number
  constructor (code: WimErrorCode, message: string, where?: number, options?: { cause?: unknown }) {
    super(code, message, 422, options)
    this.name = 'WimError'
    this.where = where
  }
}

export type ImageErrorCode =
  | 'NB_ERR_IMAGE_NOT_FOUND'
  | 'NB_ERR_IMAGE_EXISTS'
  | 'NB_ERR_IMAGE_IN_USE'
  | 'NB_ERR_IMAGE_BAD_ID'
  | 'NB_ERR_IMAGE_SOURCE'
  | 'NB_ERR_IMAGE_CHECKSUM'
  | 'NB_ERR_DISK_FULL'
  | 'NB_ERR_UPLOAD_RANGE'
  | 'NB_ERR_UPLOAD_STATE'

const STATUS: Record<ImageErrorCode, number> = {
  NB_ERR_IMAGE_NOT_FOUND: 404,
  NB_ERR_IMAGE_EXISTS: 409,
  NB_ERR_IMAGE_IN_USE: 409,
  NB_ERR_IMAGE_BAD_ID: 400,
  NB_ERR_IMAGE_SOURCE: 400,
  NB_ERR_IMAGE_CHECKSUM: 422,
  NB_ERR_DISK_FULL: 507,
  NB_ERR_UPLOAD_RANGE: 416,
  NB_ERR_UPLOAD_STATE: 409
}

/** An image-store or upload failure with an HTTP status the admin API and upload routes answer with. */
export class ImageError extends NetbootError {
  constructor (code: ImageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, STATUS[code], options)
    this.name = 'ImageError'
  }
}
