// Serve one file from disk with validators and byte ranges (RFC 9110 §13, §14). Memory stays bounded whatever
// the file size or client count: pump.ts copies from the fd with two reused buffers per download and waits for
// the socket (a slow client slows its own loop; nothing buffers the file).
import { open, type FileHandle } from 'node:fs/promises'
import type { OutgoingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { ifRangeAllows, notModified, parseRange } from './range.js'
import { pump } from './pump.js'
import { safeUrl } from './log-url.js'

export interface FileMeta {
  /** strong entity tag with its quotes; default: size and mtime */
  etag?: string
  /** hex SHA-256 of the whole file, sent as X-Checksum-SHA256 */
  sha256?: string
  contentType?: string
}

export function defaultEtag (size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`
}

/** Open, validate and stream `path`. The fd is opened once so that headers and body describe the same file. */
export async function sendFile (request: FastifyRequest, reply: FastifyReply, path: string, meta: FileMeta = {}): Promise<FastifyReply> {
  const fh = await open(path, 'r')
  try {
    return await sendOpen(request, reply, fh, meta)
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}

async function sendOpen (request: FastifyRequest, reply: FastifyReply, fh: FileHandle, meta: FileMeta): Promise<FastifyReply> {
  const st = await fh.stat()
  const size = st.size
  const etag = meta.etag ?? defaultEtag(size, st.mtimeMs)
  reply.header('accept-ranges', 'bytes').header('etag', etag).header('last-modified', st.mtime.toUTCString())
  if (meta.sha256 !== undefined) reply.header('x-checksum-sha256', meta.sha256)
  const h = request.headers
  if (notModified(h['if-none-match'], etag)) {
    await fh.close()
    return reply.code(304).send()
  }
  let range = parseRange(h.range, size)
  if (range.kind !== 'full' && !ifRangeAllows(header(h['if-range']), etag, st.mtime)) range = { kind: 'full' }
  if (range.kind === 'unsatisfiable') {
    await fh.close()
    return reply.code(416).header('content-range', `bytes */${size}`)
      .send({ code: 'NB_ERR_HTTP_RANGE', message: `range not satisfiable: ${String(h.range)} (size ${size})` })
  }
  const start = range.kind === 'partial' ? range.start : 0
  const end = range.kind === 'partial' ? range.end : size - 1
  if (range.kind === 'partial') reply.code(206).header('content-range', `bytes ${start}-${end}/${size}`)
  reply.header('content-type', meta.contentType ?? 'application/octet-stream')
  reply.header('content-length', String(end - start + 1))
  if (request.method === 'HEAD' || size === 0) {
    await fh.close()
    return reply.send()
  }
  // The body bypasses fastify's stream piping (see pump.ts for why); headers are the ones set on reply.
  reply.hijack()
  reply.raw.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders)
  const outcome = await pump(fh, reply.raw, start, end)
  request.log.debug({ url: safeUrl(request.url), status: reply.statusCode, bytes: end - start + 1, outcome }, 'download')
  return reply
}

function header (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
