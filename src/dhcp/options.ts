// DHCP options (RFC 2132) and the PXE/iPXE ones the appliance reads or writes: codes, the option-area codec with
// RFC 3396 long-option concatenation, and typed accessors. Pure: no sockets, no config.
import { Reader } from './reader.js'

export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOSTNAME: 12,
  DOMAIN: 15,
  VENDOR_SPECIFIC: 43,       // PXE spec 2.1 §2.2.5: encapsulated PXE sub-options
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,              // RFC 2132 §9.3: 1 = file, 2 = sname, 3 = both carry options
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77,            // RFC 3004; iPXE sends the plain string "iPXE"
  RELAY_AGENT: 82,           // RFC 3046: echoed in replies to relays
  CLIENT_ARCH: 93,           // RFC 4578 §2.1
  CLIENT_NDI: 94,            // RFC 4578 §2.2
  CLIENT_UUID: 97,           // RFC 4578 §2.3: type 0 + 16-byte GUID
  IPXE: 175,                 // iPXE encapsulated options (feature flags, bus id, version)
  END: 255
} as const

export const MessageType = {
  DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8
} as const
export type MessageTypeName = keyof typeof MessageType
export const messageTypeName = (n: number | undefined): MessageTypeName | undefined =>
  (Object.keys(MessageType) as MessageTypeName[]).find(k => MessageType[k] === n)

/** Option code → value. Insertion order is wire order. Values of repeated codes are joined (RFC 3396 §5). */
export type DhcpOptions = Map<number, Buffer>

/**
 * Reads one option area (the options field, or file/sname under overload) into `into`. Stops at END; a missing
 * END at the very end of the area is tolerated (several ROMs omit it in file/sname). Returns false on error.
 */
export function readOptionArea (r: Reader, into: DhcpOptions): boolean {
  while (r.remaining > 0 && r.error === undefined) {
    const code = r.u8('option code')
    if (code === Opt.PAD) continue
    if (code === Opt.END) return true
    const len = r.u8('length of option', code)
    const value = r.bytes(len, 'value of option', code)
    if (r.error !== undefined) break
    const prev = into.get(code)
    // RFC 3396 §5: all instances of a code, in order, are concatenated into one value.
    into.set(code, prev === undefined ? value : Buffer.concat([prev, value]))
  }
  return r.error === undefined
}

/** Encodes options in map order, splitting values over 255 bytes into consecutive instances (RFC 3396 §6). */
export function encodedOptionsLength (opts: DhcpOptions): number {
  let n = 0
  for (const v of opts.values()) n += v.length === 0 ? 2 : v.length + 2 * Math.ceil(v.length / 255)
  return n
}

/** `first`: write this code before all others (option 53 in replies), wherever it sits in the map. */
export function writeOptions (opts: DhcpOptions, out: Buffer, at: number, first?: number): number {
  const lead = first !== undefined ? opts.get(first) : undefined
  if (lead !== undefined) at = writeOne(first as number, lead, out, at)
  // forEach, not for…of: no [code, value] entry array per option (every reply goes through here)
  opts.forEach((v, code) => {
    if (code === Opt.PAD || code === Opt.END || (lead !== undefined && code === first)) return
    at = writeOne(code, v, out, at)
  })
  return at
}

function writeOne (code: number, v: Buffer, out: Buffer, at: number): number {
  if (v.length === 0) { out[at++] = code; out[at++] = 0; return at }
  for (let i = 0; i < v.length; i += 255) {
    const n = Math.min(255, v.length - i)
    out[at++] = code
    out[at++] = n
    v.copy(out, at, i, i + n)
    at += n
  }
  return at
}

// ---- encapsulated sub-options (option 43 for PXE, 175 for iPXE, 82 for relays): code/len/value, PAD, END ----

export function decodeSubOptions (value: Buffer): Map<number, Buffer> | undefined {
  const r = new Reader(value)
  const out = new Map<number, Buffer>()
  return readOptionArea(r, out) ? out : undefined
}

export function encodeSubOptions (subs: Map<number, Buffer>): Buffer {
  const out = Buffer.alloc(encodedOptionsLength(subs) + 1)
  const end = writeOptions(subs, out, 0)
  out[end] = Opt.END
  return out.subarray(0, end + 1)
}

/** PXE spec 2.1 §2.2.5 option 43 sub-options. */
export const PxeSub = {
  DISCOVERY_CONTROL: 6,  // bit 3: use the boot file in this offer, skip boot-server discovery
  BOOT_SERVERS: 8,
  BOOT_MENU: 9,
  MENU_PROMPT: 10,
  BOOT_ITEM: 71
} as const

export interface PxeVendorOptions {
  discoveryControl?: number
  bootServers?: Array<{ type: number, addresses: string[] }>
  bootMenu?: Array<{ type: number, description: string }>
  menuPrompt?: { timeout: number, prompt: string }
  bootItem?: { type: number, layer: number }
  other?: Map<number, Buffer>
}

export function encodePxeVendorOptions (p: PxeVendorOptions): Buffer {
  const subs = new Map<number, Buffer>()
  if (p.discoveryControl !== undefined) subs.set(PxeSub.DISCOVERY_CONTROL, Buffer.from([p.discoveryControl]))
  if (p.bootServers !== undefined) {
    subs.set(PxeSub.BOOT_SERVERS, Buffer.concat(p.bootServers.map(s => Buffer.concat([
      u16(s.type), Buffer.from([s.addresses.length]), ...s.addresses.map(ipToBuffer)]))))
  }
  if (p.bootMenu !== undefined) {
    subs.set(PxeSub.BOOT_MENU, Buffer.concat(p.bootMenu.map(m => {
      const d = Buffer.from(m.description, 'latin1')
      return Buffer.concat([u16(m.type), Buffer.from([d.length]), d])
    })))
  }
  if (p.menuPrompt !== undefined) {
    subs.set(PxeSub.MENU_PROMPT, Buffer.concat([Buffer.from([p.menuPrompt.timeout]), Buffer.from(p.menuPrompt.prompt, 'latin1')]))
  }
  if (p.bootItem !== undefined) subs.set(PxeSub.BOOT_ITEM, Buffer.concat([u16(p.bootItem.type), u16(p.bootItem.layer)]))
  for (const [k, v] of p.other ?? []) subs.set(k, v)
  return encodeSubOptions(subs)
}

/** Decodes option 43 as PXE sub-options; undefined when it is not a well-formed PXE encapsulation. */
export function decodePxeVendorOptions (value: Buffer): PxeVendorOptions | undefined {
  const subs = decodeSubOptions(value)
  if (subs === undefined) return undefined
  const p: PxeVendorOptions = {}
  for (const [code, v] of subs) {
    const r = new Reader(v)
    if (code === PxeSub.DISCOVERY_CONTROL && v.length === 1) p.discoveryControl = v[0]
    else if (code === PxeSub.BOOT_SERVERS) {
      p.bootServers = []
      while (r.remaining > 0 && r.error === undefined) {
        const type = r.u16(); const n = r.u8(); const addresses: string[] = []
        for (let i = 0; i < n; i++) addresses.push(r.ipv4())
        p.bootServers.push({ type, addresses })
      }
    } else if (code === PxeSub.BOOT_MENU) {
      p.bootMenu = []
      while (r.remaining > 0 && r.error === undefined) {
        const type = r.u16(); const n = r.u8()
        p.bootMenu.push({ type, description: r.bytes(n).toString('latin1') })
      }
    } else if (code === PxeSub.MENU_PROMPT && v.length >= 1) {
      p.menuPrompt = { timeout: v[0], prompt: v.subarray(1).toString('latin1') }
    } else if (code === PxeSub.BOOT_ITEM && v.length === 4) {
      p.bootItem = { type: v.readUInt16BE(0), layer: v.readUInt16BE(2) }
    } else {
      (p.other ??= new Map()).set(code, v)
    }
    if (r.error !== undefined) return undefined
  }
  return p
}

// ---- typed accessors ----

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff])

export function ipToBuffer (ip: string): Buffer {
  const out = Buffer.alloc(4)
  let octet = 0; let n = 0
  for (let i = 0; i < ip.length && octet < 4; i++) {
    const c = ip.charCodeAt(i)
    if (c === 46) { out[octet++] = n; n = 0 } else n = n * 10 + (c - 48)
  }
  if (octet < 4) out[octet] = n
  return out
}

export function ipToInt (ip: string): number {
  const p = ip.split('.').map(Number)
  return (((p[0] << 24) >>> 0) + (p[1] << 16) + (p[2] << 8) + p[3]) >>> 0
}

export function intToIp (n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 0xff}.${(n >>> 8) & 0xff}.${n & 0xff}`
}

export const optIp = (opts: DhcpOptions, code: number): string | undefined => {
  const v = opts.get(code)
  return v !== undefined && v.length === 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : undefined
}

export const optU32 = (opts: DhcpOptions, code: number): number | undefined => {
  const v = opts.get(code)
  return v !== undefined && v.length === 4 ? v.readUInt32BE(0) : undefined
}

export const optString = (opts: DhcpOptions, code: number): string | undefined => {
  const v = opts.get(code)
  // Strings are not NUL-terminated (RFC 2132 §2) but some firmware adds one: strip trailing NULs.
  return v === undefined ? undefined : v.toString('latin1').replace(/\0+$/, '')
}

export function optMessageType (opts: DhcpOptions): number | undefined {
  const v = opts.get(Opt.MESSAGE_TYPE)
  return v !== undefined && v.length === 1 ? v[0] : undefined
}

/** Option 93 (RFC 4578 §2.1): a list of 16-bit architecture types; undefined if absent or odd-length. */
export function optClientArch (opts: DhcpOptions): number[] | undefined {
  const v = opts.get(Opt.CLIENT_ARCH)
  if (v === undefined || v.length === 0 || v.length % 2 !== 0) return undefined
  const out: number[] = []
  for (let i = 0; i < v.length; i += 2) out.push(v.readUInt16BE(i))
  return out
}

/** Option 94 (RFC 4578 §2.2): interface type (1 = UNDI) and version. */
export function optClientNdi (opts: DhcpOptions): { type: number, major: number, minor: number } | undefined {
  const v = opts.get(Opt.CLIENT_NDI)
  return v !== undefined && v.length === 3 ? { type: v[0], major: v[1], minor: v[2] } : undefined
}

/**
 * Option 97 (RFC 4578 §2.3): type 0 followed by the 16-byte machine GUID. Firmware sends it in SMBIOS byte order
 * (SMBIOS 2.6 §7.2.1: first three fields little-endian) — seen in the golden captures from EDK2/OVMF and iPXE,
 * where QEMU `-uuid 5c0a1b2c-3d4e-…` arrives as 2c1b0a5c 4e3d …. We swap those fields back, so the result is the
 * UUID that dmidecode, the BIOS setup screen and iPXE's ${uuid} show: lowercase 8-4-4-4-12.
 * Some firmware sends the GUID without the type byte (16 bytes): accepted too.
 */
export function optClientUuid (opts: DhcpOptions): string | undefined {
  const v = opts.get(Opt.CLIENT_UUID)
  let g: Buffer | undefined
  if (v?.length === 17 && v[0] === 0) g = v.subarray(1)
  else if (v?.length === 16) g = v
  if (g === undefined) return undefined
  // Byte order of the text: fields 1-3 swapped back (little-endian on the wire), the rest as sent. The 36 characters
  // are written into a scratch buffer and read back as one string: this runs for every PXE packet, and building it
  // by concatenation allocated a string per step.
  let at = 0
  for (let i = 0; i < 16; i++) {
    const j = i < 4 ? 3 - i : i < 6 ? 9 - i : i < 8 ? 13 - i : i
    if (i === 4 || i === 6 || i === 8 || i === 10) UUID_TEXT[at++] = 0x2d   // '-'
    UUID_TEXT[at++] = HEX_DIGIT[g[j] >> 4]
    UUID_TEXT[at++] = HEX_DIGIT[g[j] & 15]
  }
  return UUID_TEXT.toString('latin1', 0, at)
}

/** ASCII codes of 0-9a-f */
export const HEX_DIGIT = Buffer.from('0123456789abcdef', 'latin1')
const UUID_TEXT = Buffer.alloc(36)

/**
 * Option 77. RFC 3004 §4 wants a list of length-prefixed classes; iPXE (and many firmwares) send one plain
 * string ("iPXE"). If the bytes parse exactly as an RFC 3004 list of non-empty items, return its items,
 * otherwise the whole value as one string.
 */
export function optUserClasses (opts: DhcpOptions): string[] | undefined {
  const v = opts.get(Opt.USER_CLASS)
  if (v === undefined) return undefined
  const items: string[] = []
  let i = 0
  while (i < v.length) {
    const n = v[i]
    if (n === 0 || i + 1 + n > v.length) return [v.toString('latin1').replace(/\0+$/, '')]
    items.push(v.subarray(i + 1, i + 1 + n).toString('latin1'))
    i += 1 + n
  }
  return items.length > 0 ? items : [v.toString('latin1')]
}

export function optParamList (opts: DhcpOptions): number[] {
  return [...(opts.get(Opt.PARAM_LIST) ?? [])]
}
