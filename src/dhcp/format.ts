// Human-readable dump of a decoded packet: the `.parsed` golden files and debug logs. One line per field or
// option; known options are shown typed, unknown ones as hex. Pure.
import { macOf, type DhcpPacket } from './packet.js'
import {
  Opt, messageTypeName, optClientArch, optClientNdi, optClientUuid, optUserClasses, decodeSubOptions,
  decodePxeVendorOptions, type DhcpOptions
} from './options.js'

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(Opt).map(([k, v]) => [v, k.toLowerCase()]))

const printable = (b: Buffer): boolean => b.length > 0 && [...b].every((c, i) => (c >= 0x20 && c < 0x7f) || (c === 0 && i === b.length - 1))

function ipList (v: Buffer): string {
  if (v.length % 4 !== 0) return `hex ${v.toString('hex')}`
  const out: string[] = []
  for (let i = 0; i < v.length; i += 4) out.push(`${v[i]}.${v[i + 1]}.${v[i + 2]}.${v[i + 3]}`)
  return out.join(', ')
}

function subOptions (v: Buffer): string {
  const subs = decodeSubOptions(v)
  if (subs === undefined) return `hex ${v.toString('hex')} (not an encapsulation)`
  return [...subs].map(([k, s]) => `${k}=${printable(s) ? JSON.stringify(s.toString('latin1')) : s.toString('hex')}`).join(' ')
}

function optionValue (code: number, v: Buffer, opts: DhcpOptions): string {
  switch (code) {
    case Opt.MESSAGE_TYPE: return `${v[0]} (${messageTypeName(v[0]) ?? 'unknown'})`
    case Opt.SUBNET_MASK: case Opt.ROUTER: case Opt.DNS: case Opt.REQUESTED_IP: case Opt.SERVER_ID: return ipList(v)
    case Opt.LEASE_TIME: case Opt.RENEWAL_TIME: case Opt.REBINDING_TIME: return v.length === 4 ? `${v.readUInt32BE(0)} s` : `hex ${v.toString('hex')}`
    case Opt.MAX_MESSAGE_SIZE: return v.length === 2 ? String(v.readUInt16BE(0)) : `hex ${v.toString('hex')}`
    case Opt.PARAM_LIST: return [...v].join(',')
    case Opt.CLIENT_ARCH: return (optClientArch(opts) ?? []).join(',') || `hex ${v.toString('hex')}`
    case Opt.CLIENT_NDI: { const n = optClientNdi(opts); return n !== undefined ? `type ${n.type} v${n.major}.${n.minor}` : `hex ${v.toString('hex')}` }
    case Opt.CLIENT_UUID: return optClientUuid(opts) ?? `hex ${v.toString('hex')}`
    case Opt.USER_CLASS: return JSON.stringify(optUserClasses(opts))
    case Opt.VENDOR_SPECIFIC: {
      const pxe = decodePxeVendorOptions(v)
      return pxe !== undefined ? `pxe ${subOptions(v)}` : `hex ${v.toString('hex')}`
    }
    case Opt.IPXE: case Opt.RELAY_AGENT: return subOptions(v)
    case Opt.CLIENT_ID: return v.toString('hex')
    default: return printable(v) ? JSON.stringify(v.toString('latin1')) : `hex ${v.toString('hex')}`
  }
}

export function describe (p: DhcpPacket): string {
  const lines = [
    `op ${p.op} (${p.op === 1 ? 'BOOTREQUEST' : 'BOOTREPLY'}) htype ${p.htype} hlen ${p.hlen} hops ${p.hops}`,
    `xid 0x${p.xid.toString(16).padStart(8, '0')} secs ${p.secs} flags 0x${p.flags.toString(16).padStart(4, '0')}`,
    `ciaddr ${p.ciaddr} yiaddr ${p.yiaddr} siaddr ${p.siaddr} giaddr ${p.giaddr}`,
    `chaddr ${macOf(p)}`,
    `sname ${JSON.stringify(p.sname)}`,
    `file ${JSON.stringify(p.file)}`
  ]
  for (const [code, v] of p.options) {
    lines.push(`option ${code} ${NAMES[code] ?? 'unknown'} [${v.length}]: ${optionValue(code, v, p.options)}`)
  }
  return lines.join('\n') + '\n'
}
