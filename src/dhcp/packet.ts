// BOOTP/DHCPv4 message codec (RFC 2131 §2, RFC 2132, RFC 3396). Pure: Buffer in, DhcpPacket out, and back.
// decode() throws only DhcpDecodeError (code + offset); encode() never fails for a packet decode() produced.
import { Reader, DhcpDecodeError } from './reader.js'
import { HEX_DIGIT, Opt, readOptionArea, encodedOptionsLength, writeOptions, type DhcpOptions } from './options.js'

export { DhcpDecodeError } from './reader.js'

export const BOOTREQUEST = 1
export const BOOTREPLY = 2
export const FLAG_BROADCAST = 0x8000
/** RFC 2131 §3: 99.130.83.99 */
export const MAGIC_COOKIE = 0x63825363
/** op..file: the fixed BOOTP header (RFC 951), then the cookie at 236. */
export const HEADER_LENGTH = 236
/** RFC 1542 §2.1: relay agents and some clients drop BOOTP messages shorter than 300 bytes. */
export const BOOTP_MIN_LENGTH = 300

export interface DhcpPacket {
  op: number
  htype: number
  hlen: number
  hops: number
  xid: number
  secs: number
  flags: number
  ciaddr: string
  yiaddr: string
  siaddr: string
  giaddr: string
  /** hlen bytes of client hardware address */
  chaddr: Buffer
  /** server host name (NUL-terminated on the wire); '' when the field carried options (overload 2/3) */
  sname: string
  /** boot file name; '' when the field carried options (overload 1/3) */
  file: string
  /** options of the options field and, under option 52, of file then sname (RFC 2132 §9.3), merged */
  options: DhcpOptions
}

/** chaddr is at most 16 bytes: 16 × "xx" and 15 colons */
const MAC_TEXT = Buffer.alloc(47)

/**
 * Lowercase aa:bb:cc:… of the first hlen bytes of chaddr. Written into a scratch buffer and read back as one string
 * (every request goes through here; concatenation allocated a string per byte).
 */
export function macOf (p: DhcpPacket): string {
  let at = 0
  for (let i = 0; i < p.chaddr.length; i++) {
    if (i > 0) MAC_TEXT[at++] = 0x3a   // ':'
    MAC_TEXT[at++] = HEX_DIGIT[p.chaddr[i] >> 4]
    MAC_TEXT[at++] = HEX_DIGIT[p.chaddr[i] & 15]
  }
  return MAC_TEXT.toString('latin1', 0, at)
}

function cString (b: Buffer): string {
  if (b.length === 0 || b[0] === 0) return ''   // the usual sname/file of a request: nothing to decode
  const nul = b.indexOf(0)
  return b.subarray(0, nul < 0 ? b.length : nul).toString('latin1')
}

export function decode (buf: Buffer): DhcpPacket {
  const r = new Reader(buf)
  const op = r.u8('op'); const htype = r.u8('htype'); const hlen = r.u8('hlen'); const hops = r.u8('hops')
  const xid = r.u32('xid'); const secs = r.u16('secs'); const flags = r.u16('flags')
  const ciaddr = r.ipv4('ciaddr'); const yiaddr = r.ipv4('yiaddr'); const siaddr = r.ipv4('siaddr'); const giaddr = r.ipv4('giaddr')
  const chaddrField = r.bytes(16, 'chaddr'); const snameField = r.bytes(64, 'sname'); const fileField = r.bytes(128, 'file')
  const cookie = r.u32('magic cookie')
  if (r.error !== undefined) throw r.error
  if (op !== BOOTREQUEST && op !== BOOTREPLY) throw new DhcpDecodeError('NB_ERR_DHCP_BAD_OP', `op ${op} is not BOOTREQUEST/BOOTREPLY`, 0)
  if (hlen > 16) throw new DhcpDecodeError('NB_ERR_DHCP_BAD_HLEN', `hlen ${hlen} exceeds 16`, 2)
  if (cookie !== MAGIC_COOKIE) throw new DhcpDecodeError('NB_ERR_DHCP_BAD_COOKIE', 'no DHCP magic cookie', HEADER_LENGTH)

  const options: DhcpOptions = new Map()
  if (!readOptionArea(r, options)) throw r.error as unknown as DhcpDecodeError
  // RFC 2132 §9.3: option 52 says file (1), sname (2) or both (3) carry more options; file is read first.
  const overload = options.get(Opt.OVERLOAD)
  let fileHasOptions = false; let snameHasOptions = false
  if (overload !== undefined) {
    const v = overload.length === 1 ? overload[0] : 0
    if (v < 1 || v > 3) throw new DhcpDecodeError('NB_ERR_DHCP_BAD_OPTION', `option overload value ${overload.toString('hex')} not 1, 2 or 3`, HEADER_LENGTH + 4)
    fileHasOptions = (v & 1) !== 0; snameHasOptions = (v & 2) !== 0
    options.delete(Opt.OVERLOAD)
    const areas: Array<[Buffer, number]> = []
    if (fileHasOptions) areas.push([fileField, 108])
    if (snameHasOptions) areas.push([snameField, 44])
    for (const [field, base] of areas) {
      const fr = new Reader(field, base)
      if (!readOptionArea(fr, options)) throw fr.error as unknown as DhcpDecodeError
    }
  }
  return {
    op, htype, hlen, hops, xid, secs, flags, ciaddr, yiaddr, siaddr, giaddr,
    chaddr: Buffer.from(chaddrField.subarray(0, hlen)),
    sname: snameHasOptions ? '' : cString(snameField),
    file: fileHasOptions ? '' : cString(fileField),
    options
  }
}

export interface EncodeOptions {
  /** Pad with zeros after END up to this length (default 300, the BOOTP minimum). */
  minLength?: number
}

/**
 * Dotted quad → 4 bytes at `at`, digit by digit: no array or substrings (split + Number were a tenth of the
 * per-packet time, bench/dhcp/micro.ts). Addresses here come from decode() or the validated config; anything
 * else (a fifth dot, a non-digit) writes what it parsed so far and leaves the rest zero.
 */
function writeIp (out: Buffer, at: number, ip: string): void {
  let part = 0; let n = 0
  for (let i = 0; i < ip.length; i++) {
    const c = ip.charCodeAt(i)
    if (c === 0x2e) {   // '.'
      out[at + part] = n & 0xff
      if (++part > 3) return
      n = 0
    } else if (c >= 0x30 && c <= 0x39) {
      n = n * 10 + (c - 0x30)
    } else {
      return
    }
  }
  out[at + part] = n & 0xff
}

/**
 * Encodes with all options in the options field, DHCP message type first (RFC 2131 §4.1 lists it as required;
 * several PXE ROMs look for it first), long values split per RFC 3396. No overload is produced: our replies are
 * far below the 576-byte minimum every client accepts (RFC 2131 §2).
 */
export function encode (p: DhcpPacket, eo: EncodeOptions = {}): Buffer {
  const optLen = encodedOptionsLength(p.options)
  const len = Math.max(HEADER_LENGTH + 4 + optLen + 1, eo.minLength ?? BOOTP_MIN_LENGTH)
  // A slice of Node's 8 KiB pool, zeroed, rather than an ArrayBuffer of its own per reply: at 5,000 replies/s the
  // external memory of one ArrayBuffer each made V8 start major GCs in the first second of a storm (bench/dhcp).
  const out = Buffer.allocUnsafe(len).fill(0)
  out[0] = p.op; out[1] = p.htype; out[2] = p.hlen; out[3] = p.hops
  out.writeUInt32BE(p.xid >>> 0, 4); out.writeUInt16BE(p.secs & 0xffff, 8); out.writeUInt16BE(p.flags & 0xffff, 10)
  writeIp(out, 12, p.ciaddr); writeIp(out, 16, p.yiaddr); writeIp(out, 20, p.siaddr); writeIp(out, 24, p.giaddr)
  p.chaddr.copy(out, 28, 0, Math.min(16, p.chaddr.length))
  out.write(p.sname, 44, 63, 'latin1')
  out.write(p.file, 108, 127, 'latin1')
  out.writeUInt32BE(MAGIC_COOKIE, HEADER_LENGTH)
  const at = writeOptions(p.options, out, HEADER_LENGTH + 4, Opt.MESSAGE_TYPE)
  out[at] = Opt.END
  return out
}
