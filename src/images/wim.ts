// WIM reader: the header (wim-header.ts) and the XML catalogue → what the image store and config checks need.
// No npm package reads WIMs; this is pure parsing over a file handle (no fastify/level/config imports).
// Format: Microsoft "Windows Imaging File Format (WIM)" and wimlib's documentation and headers.
import { open, type FileHandle } from 'node:fs/promises'
import { WimError } from './errors.js'
import { parseWimHeader, isEmptyResource, WIM_HEADER_SIZE, type WimHeader, type ResourceHeader } from './wim-header.js'
import { parseWimXml, type WimImageInfo } from './wim-xml.js'

export type { WimHeader, ResourceHeader, WimCompression } from './wim-header.js'
export type { WimImageInfo, WimArch } from './wim-xml.js'

export interface WimInfo extends WimHeader {
  /** size of the file on disk */
  fileSize: number
  /** the WIM's <TOTALBYTES> (wimlib: bytes before the XML data), 0 when absent */
  totalBytes: number
  /** file offset of the header the resources came from: 0, or fileSize-208 for a streamed pipable WIM */
  headerOffset: number
  images: WimImageInfo[]
}

/** The XML catalogue of real WIMs is KBs; anything above this is refused rather than read into memory. */
export const MAX_XML_BYTES = 32 * 1024 * 1024

async function readAt (fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.alloc(len)
  let got = 0
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got)
    if (bytesRead === 0) break
    got += bytesRead
  }
  return got === len ? buf : buf.subarray(0, got)
}

/**
 * A pipable WIM written to a pipe (wimlib `--pipable` to stdout, as capture.sh may stream it) has a header at
 * the start whose resource headers are zero; the final header is appended at the end of the stream (wimlib
 * docs, "PIPABLE WIMS"). Written to a seekable file, wimlib also rewrites the header at the start.
 */
async function finalHeader (fh: FileHandle, first: WimHeader, fileSize: number): Promise<{ hdr: WimHeader, at: number }> {
  if (!first.pipable || !isEmptyResource(first.resources.xml)) return { hdr: first, at: 0 }
  const at = fileSize - WIM_HEADER_SIZE
  if (at < WIM_HEADER_SIZE) {
    throw new WimError('NB_ERR_WIM_TRUNCATED', `pipable WIM of ${fileSize} bytes has no final header (incomplete stream?)`, fileSize)
  }
  const tail = await readAt(fh, at, WIM_HEADER_SIZE)
  let hdr: WimHeader
  try {
    hdr = parseWimHeader(tail, at)
  } catch (err) {
    if (err instanceof WimError && err.code === 'NB_ERR_WIM_BAD_MAGIC') {
      throw new WimError('NB_ERR_WIM_TRUNCATED',
        `pipable WIM has no final header at offset ${at} (incomplete stream?)`, at, { cause: err })
    }
    throw err
  }
  if (!hdr.pipable || hdr.guid !== first.guid) {
    throw new WimError('NB_ERR_WIM_TRUNCATED', `pipable WIM: the header at offset ${at} does not match the first header`, at)
  }
  return { hdr, at }
}

function checkBounds (hdr: WimHeader, fileSize: number, at: number): void {
  const names: Record<keyof WimHeader['resources'], string> = {
    offsetTable: 'blob table', xml: 'XML data', bootMetadata: 'boot metadata', integrity: 'integrity table'
  }
  for (const key of Object.keys(names) as Array<keyof WimHeader['resources']>) {
    const r = hdr.resources[key]
    if (isEmptyResource(r)) continue
    if (r.offset + r.sizeInWim > fileSize) {
      throw new WimError('NB_ERR_WIM_OUT_OF_BOUNDS',
        `${names[key]} resource (offset ${r.offset}, ${r.sizeInWim} bytes) ends beyond the end of the file ` +
        `(${fileSize} bytes): truncated file or corrupt header`, at + 48)
    }
  }
}

function checkXmlResource (r: ResourceHeader, at: number): void {
  if (isEmptyResource(r) || r.sizeInWim === 0) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER', 'WIM header has no XML data resource', at + 72)
  }
  if (r.compressed) {
    throw new WimError('NB_ERR_WIM_UNSUPPORTED', `XML data resource at offset ${r.offset} is compressed; WIM writers store it uncompressed`, at + 72)
  }
  if (r.sizeInWim !== r.originalSize) {
    throw new WimError('NB_ERR_WIM_BAD_HEADER',
      `uncompressed XML data resource has size ${r.sizeInWim} in the WIM but original size ${r.originalSize}`, at + 72)
  }
  if (r.sizeInWim > MAX_XML_BYTES) {
    throw new WimError('NB_ERR_WIM_UNSUPPORTED', `XML data resource of ${r.sizeInWim} bytes exceeds ${MAX_XML_BYTES}`, at + 72)
  }
}

/** UTF-16LE with an optional BOM (wimlib and WIMGAPI write one). Rejects odd lengths and unpaired surrogates. */
export function decodeUtf16le (buf: Buffer, fileOffset: number): string {
  if (buf.length % 2 !== 0) {
    throw new WimError('NB_ERR_WIM_BAD_XML', `XML data at offset ${fileOffset} has an odd length (${buf.length}): not UTF-16`, fileOffset)
  }
  try {
    return new TextDecoder('utf-16le', { fatal: true, ignoreBOM: false }).decode(buf)
  } catch (err) {
    throw new WimError('NB_ERR_WIM_BAD_XML', `XML data at offset ${fileOffset} is not valid UTF-16LE`, fileOffset, { cause: err })
  }
}

async function readFrom (fh: FileHandle): Promise<WimInfo> {
  const fileSize = (await fh.stat()).size
  const first = parseWimHeader(await readAt(fh, 0, WIM_HEADER_SIZE), 0)
  const { hdr, at } = await finalHeader(fh, first, fileSize)
  checkBounds(hdr, fileSize, at)
  const xmlRes = hdr.resources.xml
  checkXmlResource(xmlRes, at)
  const raw = await readAt(fh, xmlRes.offset, xmlRes.sizeInWim)
  if (raw.length !== xmlRes.sizeInWim) {
    throw new WimError('NB_ERR_WIM_TRUNCATED', `XML data at offset ${xmlRes.offset}: read ${raw.length} of ${xmlRes.sizeInWim} bytes`, xmlRes.offset)
  }
  const xml = parseWimXml(decodeUtf16le(raw, xmlRes.offset), xmlRes.offset)
  if (xml.images.length !== hdr.imageCount) {
    throw new WimError('NB_ERR_WIM_IMAGE_COUNT',
      `WIM header says ${hdr.imageCount} image(s) but the XML data at offset ${xmlRes.offset} describes ${xml.images.length}`, at + 44)
  }
  return { ...hdr, fileSize, totalBytes: xml.totalBytes, headerOffset: at, images: xml.images }
}

/**
 * Reads a WIM's header and XML catalogue. Throws WimError (code NB_ERR_WIM_…, with what and where) for a
 * missing, truncated or corrupt file. Only the header(s) and the XML are read, whatever the WIM's size.
 */
export async function readWimInfo (path: string): Promise<WimInfo> {
  let fh: FileHandle
  try {
    fh = await open(path, 'r')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO'
    throw new WimError('NB_ERR_WIM_IO', `cannot open WIM ${path}: ${code}`, undefined, { cause: err })
  }
  try {
    return await readFrom(fh)
  } catch (err) {
    if (err instanceof WimError) {
      err.message = `${path}: ${err.message}`
      throw err
    }
    const code = (err as NodeJS.ErrnoException).code ?? String(err)
    throw new WimError('NB_ERR_WIM_IO', `${path}: read failed: ${code}`, undefined, { cause: err })
  } finally {
    await fh.close().catch(() => {})
  }
}
