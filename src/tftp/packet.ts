// Pure TFTP codec: RFC 1350 packets plus the RFC 2347 option extension (OACK). No sockets, no config.
import { NetbootError } from '../errors.js'

/** RFC 1350 §5 opcodes, RFC 2347 adds OACK (6). */
export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const

/** RFC 1350 appendix error codes; 8 is RFC 2347 "option negotiation refused". */
export const ERR = {
  NOT_DEFINED: 0,
  NOT_FOUND: 1,
  ACCESS: 2,
  DISK_FULL: 3,
  ILLEGAL_OP: 4,
  UNKNOWN_TID: 5,
  EXISTS: 6,
  NO_USER: 7,
  OPTION_REFUSED: 8
} as const

export interface RequestPacket {
  op: 1 | 2
  /** the raw file name, bytes read as latin1 so nothing is lost before paths.ts judges it */
  filename: string
  /** lowercased: netascii, octet or mail */
  mode: string
  /** RFC 2347: option names lowercased (case-insensitive), values as sent, in request order */
  options: Record<string, string>
}
export interface DataPacket { op: 3, block: number, data: Buffer }
export interface AckPacket { op: 4, block: number }
export interface ErrorPacket { op: 5, code: number, message: string }
export interface OackPacket { op: 6, options: Record<string, string> }
export type Packet = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket

export type TftpDecodeCode =
  | 'NB_ERR_TFTP_SHORT'      // fewer than the bytes the opcode needs (includes the empty datagram)
  | 'NB_ERR_TFTP_OPCODE'     // opcode outside 1..6
  | 'NB_ERR_TFTP_STRING'     // a string field without its terminating NUL
  | 'NB_ERR_TFTP_OPTION'     // an option name without a value, or an empty name
  | 'NB_ERR_TFTP_MODE'       // mode is not netascii/octet/mail

/** A datagram that is not a well-formed TFTP packet. `offset` is where decoding stopped. */
export class TftpDecodeError extends NetbootError {
  readonly offset: number
  constructor (code: TftpDecodeCode, message: string, offset: number) {
    super(code, `${message} at offset ${offset}`, 400)
    this.name = 'TftpDecodeError'
    this.offset = offset
  }
}

const MODES = new Set(['netascii', 'octet', 'mail'])

/** Reads NUL-terminated strings (RFC 1350 §5 "string ... terminated by a zero byte"). */
function readString (buf: Buffer, at: number): { value: string, next: number } {
  const end = buf.indexOf(0, at)
  if (end < 0) throw new TftpDecodeError('NB_ERR_TFTP_STRING', 'string without terminating NUL', at)
  return { value: buf.toString('latin1', at, end), next: end + 1 }
}

/** RFC 2347: pairs of NUL-terminated name/value strings until the end of the packet. */
function readOptions (buf: Buffer, at: number): Record<string, string> {
  const options: Record<string, string> = Object.create(null)
  while (at < buf.length) {
    // Some PXE ROMs pad requests with zero bytes after the last string: padding is not an option.
    if (buf.subarray(at).every(b => b === 0)) break
    const name = readString(buf, at)
    if (name.value === '') throw new TftpDecodeError('NB_ERR_TFTP_OPTION', 'empty option name', at)
    if (name.next >= buf.length) throw new TftpDecodeError('NB_ERR_TFTP_OPTION', `option ${name.value} without a value`, name.next)
    const value = readString(buf, name.next)
    const key = name.value.toLowerCase()
    // RFC 2347 says nothing about repeats: the first one wins, later ones are ignored.
    if (!(key in options)) options[key] = value.value
    at = value.next
  }
  return options
}

function decodeRequest (op: 1 | 2, buf: Buffer): RequestPacket {
  const file = readString(buf, 2)
  const mode = readString(buf, file.next)
  const m = mode.value.toLowerCase()
  if (!MODES.has(m)) throw new TftpDecodeError('NB_ERR_TFTP_MODE', `unknown mode ${JSON.stringify(mode.value)}`, file.next)
  return { op, filename: file.value, mode: m, options: readOptions(buf, mode.next) }
}

/** Decodes one datagram. Throws TftpDecodeError; never returns a half-read packet. */
export function decode (buf: Buffer): Packet {
  if (buf.length < 2) throw new TftpDecodeError('NB_ERR_TFTP_SHORT', `datagram of ${buf.length} bytes`, buf.length)
  const op = buf.readUInt16BE(0)
  switch (op) {
    case OP.RRQ:
    case OP.WRQ:
      return decodeRequest(op, buf)
    case OP.DATA:
      if (buf.length < 4) throw new TftpDecodeError('NB_ERR_TFTP_SHORT', 'DATA without block number', buf.length)
      return { op, block: buf.readUInt16BE(2), data: buf.subarray(4) }
    case OP.ACK:
      if (buf.length < 4) throw new TftpDecodeError('NB_ERR_TFTP_SHORT', 'ACK without block number', buf.length)
      return { op, block: buf.readUInt16BE(2) }
    case OP.ERROR: {
      if (buf.length < 4) throw new TftpDecodeError('NB_ERR_TFTP_SHORT', 'ERROR without code', buf.length)
      // Some clients omit the trailing NUL of the message: accept the rest of the datagram then.
      const end = buf.indexOf(0, 4)
      return { op, code: buf.readUInt16BE(2), message: buf.toString('latin1', 4, end < 0 ? buf.length : end) }
    }
    case OP.OACK:
      return { op, options: readOptions(buf, 2) }
    default:
      throw new TftpDecodeError('NB_ERR_TFTP_OPCODE', `unknown opcode ${op}`, 0)
  }
}

function strings (parts: string[]): Buffer {
  return Buffer.concat(parts.map(p => Buffer.from(p + '\0', 'latin1')))
}

function opcode (op: number): Buffer {
  const b = Buffer.allocUnsafe(2)
  b.writeUInt16BE(op, 0)
  return b
}

export function encodeRequest (op: 1 | 2, filename: string, mode = 'octet', options: Record<string, string> = {}): Buffer {
  const parts = [filename, mode]
  for (const [k, v] of Object.entries(options)) parts.push(k, v)
  return Buffer.concat([opcode(op), strings(parts)])
}

/** A 4-byte opcode + block header (DATA and ACK share it, RFC 1350 §5). */
function blockHeader (op: number, block: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt16BE(op, 0)
  b.writeUInt16BE(block & 0xffff, 2)
  return b
}

/** The 4-byte DATA header; the payload is sent beside it (sendmsg iovec) so file bytes are never copied. */
export function dataHeader (block: number): Buffer {
  return blockHeader(OP.DATA, block)
}

/**
 * DATA packets for `count` consecutive blocks from `first` (RFC 1350 §5; numbers wrap at 65535), packed back to back
 * in one buffer and returned as slices of it. `data` holds the payload of block `first` at data[0]; a block past its
 * end is empty (the final 4-byte DATA of a file whose size is a multiple of blksize). For small blocks this is
 * cheaper per datagram than a header + payload pair: one allocation and a copy of at most a window of small blocks.
 */
export function packData (first: number, count: number, data: Buffer, blksize: number): Buffer[] {
  let total = 0
  for (let i = 0; i < count; i++) total += 4 + Math.max(0, Math.min(blksize, data.length - i * blksize))
  const out = Buffer.allocUnsafe(total)
  const packets: Buffer[] = []
  let at = 0
  for (let i = 0; i < count; i++) {
    const block = (first + i) & 0xffff
    const off = i * blksize
    const n = Math.max(0, Math.min(blksize, data.length - off))
    out[at] = 0; out[at + 1] = OP.DATA; out[at + 2] = block >> 8; out[at + 3] = block & 0xff
    if (n > 0) data.copy(out, at + 4, off, off + n)
    packets.push(out.subarray(at, at + 4 + n))
    at += 4 + n
  }
  return packets
}

export function encodeData (block: number, data: Buffer): Buffer {
  return Buffer.concat([dataHeader(block), data])
}

export function encodeAck (block: number): Buffer {
  return blockHeader(OP.ACK, block)
}

export function encodeError (code: number, message: string): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt16BE(OP.ERROR, 0)
  b.writeUInt16BE(code, 2)
  return Buffer.concat([b, strings([message])])
}

export function encodeOack (options: Record<string, string>): Buffer {
  const parts: string[] = []
  for (const [k, v] of Object.entries(options)) parts.push(k, v)
  return Buffer.concat([opcode(OP.OACK), strings(parts)])
}

/** Human-readable one-liner for logs and test failure messages. */
export function describe (p: Packet): string {
  switch (p.op) {
    case OP.RRQ: case OP.WRQ:
      return `${p.op === OP.RRQ ? 'RRQ' : 'WRQ'} ${JSON.stringify(p.filename)} ${p.mode} ${JSON.stringify(p.options)}`
    case OP.DATA: return `DATA ${p.block} (${p.data.length} bytes)`
    case OP.ACK: return `ACK ${p.block}`
    case OP.ERROR: return `ERROR ${p.code} ${JSON.stringify(p.message)}`
    case OP.OACK: return `OACK ${JSON.stringify(p.options)}`
  }
}
