// A byte reader whose first error sticks (the insomniacslk/dhcp pattern): callers read every field, then check
// `error` once. Reads past the end return zeros and record a DhcpDecodeError with the offset where it happened.
import { NetbootError } from '../errors.js'

export type DhcpDecodeCode =
  | 'NB_ERR_DHCP_TRUNCATED'   // the datagram ends inside the fixed header or inside an option
  | 'NB_ERR_DHCP_BAD_OP'      // op is neither BOOTREQUEST (1) nor BOOTREPLY (2)
  | 'NB_ERR_DHCP_BAD_HLEN'    // hlen > 16 (chaddr is 16 bytes, RFC 2131 §2)
  | 'NB_ERR_DHCP_BAD_COOKIE'  // no magic cookie 99.130.83.99 (RFC 2131 §3)
  | 'NB_ERR_DHCP_BAD_OPTION'  // an option whose value is malformed (length, overload value, encapsulation)

/** A malformed packet. `offset` is the byte in the datagram where decoding stopped. */
export class DhcpDecodeError extends NetbootError {
  readonly offset: number
  constructor (code: DhcpDecodeCode, message: string, offset: number) {
    super(code, `${message} at offset ${offset}`, 400)
    this.name = 'DhcpDecodeError'
    this.offset = offset
  }
}

export class Reader {
  private pos = 0
  error: DhcpDecodeError | undefined

  /** `base` is the offset of buf[0] inside the datagram, so errors in sname/file/options point at real bytes. */
  constructor (private readonly buf: Buffer, private readonly base = 0) {}

  get offset (): number { return this.base + this.pos }
  get remaining (): number { return this.buf.length - this.pos }

  fail (code: DhcpDecodeCode, message: string, at = this.offset): void {
    if (this.error === undefined) this.error = new DhcpDecodeError(code, message, at)
  }

  /**
   * `code`, when given, is appended to `what` in the error message ("length of option 60"): callers pass a constant
   * string and the number rather than a template string, so no message is built for a packet that decodes (a
   * request has ~15 options: two strings each were a fifth of what decoding allocated, bench/dhcp).
   */
  private take (n: number, what: string, code?: number): number {
    if (this.error !== undefined) return -1
    if (n > this.buf.length - this.pos) {
      this.fail('NB_ERR_DHCP_TRUNCATED', `${code === undefined ? what : `${what} ${code}`}: need ${n} bytes, ${this.buf.length - this.pos} left`)
      return -1
    }
    const at = this.pos
    this.pos += n
    return at
  }

  u8 (what = 'byte', code?: number): number {
    const at = this.take(1, what, code)
    return at < 0 ? 0 : this.buf[at]
  }

  u16 (what = 'uint16'): number {
    const at = this.take(2, what)
    return at < 0 ? 0 : (this.buf[at] << 8) | this.buf[at + 1]
  }

  u32 (what = 'uint32'): number {
    const at = this.take(4, what)
    return at < 0 ? 0 : ((this.buf[at] << 24) >>> 0) + (this.buf[at + 1] << 16) + (this.buf[at + 2] << 8) + this.buf[at + 3]
  }

  bytes (n: number, what = 'bytes', code?: number): Buffer {
    const at = this.take(n, what, code)
    return at < 0 ? Buffer.alloc(0) : this.buf.subarray(at, at + n)
  }

  ipv4 (what = 'address'): string {
    const at = this.take(4, what)
    if (at < 0) return '0.0.0.0'
    const b = this.buf
    // Most addresses in a request are 0.0.0.0: no string built for them (this runs 4× per packet).
    if ((b[at] | b[at + 1] | b[at + 2] | b[at + 3]) === 0) return '0.0.0.0'
    return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`
  }
}
