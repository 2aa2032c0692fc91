// RFC 2347 option negotiation for read requests. Pure: requested options + limits + file size → what we use
// and what goes into the OACK. Unknown or invalid options are left out of the OACK, which RFC 2347 §"Option
// Acknowledgment" allows ("the server ... omits options it does not support"); the client then uses defaults.

export interface OptionLimits {
  /** config tftp.maxBlksize (8..65464) */
  maxBlksize: number
  /** config tftp.maxWindowsize (1..65535) */
  maxWindowsize: number
}

export interface Negotiated {
  /** bytes per DATA block: 512 unless blksize was negotiated (RFC 2348) */
  blksize: number
  /** blocks sent before waiting for an ACK: 1 unless windowsize was negotiated (RFC 7440) */
  windowsize: number
  /** retransmission timeout asked by the client (RFC 2349 "timeout"), in ms */
  timeoutMs?: number
  /** the OACK to send, or undefined when no option was accepted (then DATA 1 answers the RRQ directly) */
  oack?: Record<string, string>
}

export const DEFAULT_BLKSIZE = 512
const BLKSIZE_MIN = 8
const BLKSIZE_MAX = 65464
const TIMEOUT_MIN = 1
const TIMEOUT_MAX = 255
const WINDOW_MIN = 1
const WINDOW_MAX = 65535
/** payload bytes of the largest window we agree to (see negotiate) */
const WINDOW_BYTES = 64 * 1024

/** A decimal integer and nothing else ("1468", not "1468abc", " 1468" or "0x5bc"). */
function int (s: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(s)) return undefined
  return Number(s)
}

/**
 * RFC 2348: 8..65464; values above our limit are answered with our limit (the server "may reply with a
 * smaller value"); values below 8 are invalid and ignored.
 */
function blksize (v: string, max: number): number | undefined {
  const n = int(v)
  if (n === undefined || n < BLKSIZE_MIN) return undefined
  return Math.min(n, max, BLKSIZE_MAX)
}

/** RFC 7440 §4: 1..65535, the server may answer a smaller value. */
function windowsize (v: string, max: number): number | undefined {
  const n = int(v)
  if (n === undefined || n < WINDOW_MIN) return undefined
  return Math.min(n, max, WINDOW_MAX)
}

/** RFC 2349: 1..255 seconds, and the server must echo the value unchanged or leave it out. */
function timeout (v: string): number | undefined {
  const n = int(v)
  if (n === undefined || n < TIMEOUT_MIN || n > TIMEOUT_MAX) return undefined
  return n
}

/**
 * Negotiates a read request. `size` is the file size for tsize (RFC 2349: on a RRQ the client sends 0 and
 * the server answers the size). The OACK keeps the client's option spelling order: blksize, tsize, timeout,
 * windowsize as they were requested.
 */
export function negotiate (requested: Readonly<Record<string, string>>, limits: OptionLimits, size: number): Negotiated {
  const out: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1 }
  const oack: Record<string, string> = {}
  for (const [name, value] of Object.entries(requested)) {
    if (name === 'blksize') {
      const n = blksize(value, limits.maxBlksize)
      if (n !== undefined) { out.blksize = n; oack.blksize = String(n) }
    } else if (name === 'windowsize') {
      const n = windowsize(value, limits.maxWindowsize)
      if (n !== undefined) { out.windowsize = n; oack.windowsize = String(n) }
    } else if (name === 'timeout') {
      const n = timeout(value)
      if (n !== undefined) { out.timeoutMs = n * 1000; oack.timeout = String(n) }
    } else if (name === 'tsize') {
      // RFC 2349: only a valid number is a tsize request; we report the real size whatever the client sent.
      // An empty file gets no tsize: curl rejects "tsize 0" in an OACK as an illegal operation (error 71).
      if (int(value) !== undefined && size > 0) oack.tsize = String(size)
    }
  }
  if (out.windowsize > 1 && out.windowsize * out.blksize > WINDOW_BYTES) {
    // RFC 7440 §3: the server may answer a smaller windowsize than requested. A window is sent back to back
    // and a client's default Linux receive buffer (208 KiB) holds only about 12 datagrams of 8 KiB, so a
    // bigger window loses its tail every time (atftp at 8192 x 16), which only a timeout can recover.
    out.windowsize = Math.max(1, Math.floor(WINDOW_BYTES / out.blksize))
    oack.windowsize = String(out.windowsize)
  }
  if (Object.keys(oack).length > 0) out.oack = oack
  return out
}

/** Number of DATA blocks of a file: the last block is shorter than blksize, possibly empty (RFC 1350 §6). */
export function blockCount (size: number, blksize: number): number {
  return Math.floor(size / blksize) + 1
}
