// The 208-byte WIM header (wimlib's `struct wim_header_disk`, Microsoft's WIM format document). Pure: bytes in.
// Offsets: 0 magic, 8 header size, 12 version, 16 flags, 20 chunk size, 24 GUID, 40 part number, 42 total parts,
// 44 image count, 48 blob (offset) table reshdr, 72 XML data reshdr, 96 boot metadata reshdr, 120 boot index,
// 124 integrity table reshdr, 148 unused (60 bytes). All little-endian.
import { WimError } from './errors.js'

export const WIM_HEADER_SIZE = 208
export const MAGIC_WIM = Buffer.from('MSWIM\0\0\0', 'latin1')
/** wimlib's pipable WIM magic ("WLPWM"); its header is written at the start and again at the end. */
export const MAGIC_PIPABLE = Buffer.from('WLPWM\0\0\0', 'latin1')

export type WimCompression = 'none' | 'xpress' | 'lzx' | 'lzms'

/** A resource header: 7-byte size in the WIM + 1 flag byte, 8-byte offset, 8-byte uncompressed size. */
export interface ResourceHeader {
  offset: number
  sizeInWim: number
  originalSize: number
  flags: number
  compressed: boolean
}

export interface WimHeader {
  magic: 'MSWIM' | 'WLPWM'
  pipable: boolean
  headerSize: number
  version: number
  flags: number
  flagNames: string[]
  compression: WimCompression
  chunkSize: number
  /** the 16 GUID bytes in file order as lowercase hex, as `wiminfo --header` prints it */
  guid: string
  partNumber: number
  totalParts: number
  imageCount: number
  bootIndex: number
  resources: {
    offsetTable: ResourceHeader
    xml: ResourceHeader
    bootMetadata: ResourceHeader
    integrity: ResourceHeader
  }
}

/** WIM_HDR_FLAG_* (wimlib include/wimlib/header.h). */
const HDR_FLAGS: Array<[number, string]> = [
  [0x00000001, 'RESERVED'],
  [0x00000002, 'COMPRESSION'],
  [0x00000004, 'READONLY'],
  [0x00000008, 'SPANNED'],
  [0x00000010, 'RESOURCE_ONLY'],
  [0x00000020, 'METADATA_ONLY'],
  [0x00000040, 'WRITE_IN_PROGRESS'],
  [0x00000080, 'RP_FIX'],
  [0x00010000, 'COMPRESS_RESERVED'],
  [0x00020000, 'COMPRESS_XPRESS'],
  [0x00040000, 'COMPRESS_LZX'],
  [0x00080000, 'COMPRESS_LZMS'],
  [0x00200000, 'COMPRESS_XPRESS_2']
]

/** WIM_RESHDR_FLAG_COMPRESSED */
const RESHDR_COMPRESSED = 0x04

function u64 (buf: Buffer, at: number, what: string): number {
  const v = buf.readBigUInt64LE(at)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER', `WIM header: ${what} (${v}) is implausibly large`, at)
  }
  return Number(v)
}

function resourceHeader (buf: Buffer, at: number, what: string): ResourceHeader {
  // size_in_wim is a 56-bit little-endian integer followed by one flags byte.
  const sizeInWim = buf.readUIntLE(at, 6) + buf[at + 6] * 2 ** 48
  const flags = buf[at + 7]
  return {
    sizeInWim,
    flags,
    compressed: (flags & RESHDR_COMPRESSED) !== 0,
    offset: u64(buf, at + 8, `${what} offset`),
    originalSize: u64(buf, at + 16, `${what} original size`)
  }
}

function compressionOf (flags: number): WimCompression {
  if ((flags & 0x2) === 0) return 'none'
  const kinds: WimCompression[] = []
  if ((flags & 0x20000) !== 0 || (flags & 0x200000) !== 0) kinds.push('xpress')
  if ((flags & 0x40000) !== 0) kinds.push('lzx')
  if ((flags & 0x80000) !== 0) kinds.push('lzms')
  if (kinds.length !== 1) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER',
      `WIM header: flags 0x${flags.toString(16)} name ${kinds.length === 0 ? 'no' : 'several'} compression types`, 16)
  }
  return kinds[0]
}

/** Parses and sanity-checks a header from at least 208 bytes. `at` is its file offset, for error messages. */
export function parseWimHeader (buf: Buffer, at = 0): WimHeader {
  if (buf.length < WIM_HEADER_SIZE) {
    throw new WimError('NB_ERR_WIM_TRUNCATED', `WIM header at offset ${at} is ${buf.length} bytes, needs ${WIM_HEADER_SIZE}`, at)
  }
  const magic = buf.subarray(0, 8)
  const pipable = magic.equals(MAGIC_PIPABLE)
  if (!pipable && !magic.equals(MAGIC_WIM)) {
    throw new WimError('NB_ERR_WIM_BAD_MAGIC',
      `not a WIM file: magic at offset ${at} is ${magic.toString('hex')}, expected MSWIM\\0\\0\\0 or WLPWM\\0\\0\\0`, at)
  }
  const headerSize = buf.readUInt32LE(8)
  if (headerSize < WIM_HEADER_SIZE) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER', `WIM header size ${headerSize} is below ${WIM_HEADER_SIZE}`, at + 8)
  }
  const flags = buf.readUInt32LE(16)
  const compression = compressionOf(flags)
  let chunkSize = buf.readUInt32LE(20)
  // wimlib: a compressed WIM with chunk size 0 uses the historical default of 32768.
  if (chunkSize === 0 && compression !== 'none') chunkSize = 32768
  if (compression !== 'none' && (chunkSize & (chunkSize - 1)) !== 0) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER', `WIM chunk size ${chunkSize} is not a power of two`, at + 20)
  }
  const partNumber = buf.readUInt16LE(40)
  const totalParts = buf.readUInt16LE(42)
  if (partNumber === 0 || totalParts === 0 || partNumber > totalParts) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER', `WIM part number ${partNumber}/${totalParts} is invalid`, at + 40)
  }
  const imageCount = buf.readUInt32LE(44)
  const bootIndex = buf.readUInt32LE(120)
  if (bootIndex > imageCount) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER', `WIM boot index ${bootIndex} is beyond the image count ${imageCount}`, at + 120)
  }
  return {
    magic: pipable ? 'WLPWM' : 'MSWIM',
    pipable,
    headerSize,
    version: buf.readUInt32LE(12),
    flags,
    flagNames: HDR_FLAGS.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n),
    compression,
    chunkSize,
    guid: buf.subarray(24, 40).toString('hex'),
    partNumber,
    totalParts,
    imageCount,
    bootIndex,
    resources: {
      offsetTable: resourceHeader(buf, 48, 'blob table'),
      xml: resourceHeader(buf, 72, 'XML data'),
      bootMetadata: resourceHeader(buf, 96, 'boot metadata'),
      integrity: resourceHeader(buf, 124, 'integrity table')
    }
  }
}

/** True when the resource header is all zeros (not present). */
export function isEmptyResource (r: ResourceHeader): boolean {
  return r.offset === 0 && r.sizeInWim === 0 && r.originalSize === 0
}
