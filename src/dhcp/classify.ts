// Pure classifier: a decoded request and the port it came in on → who is asking and what they want, or the
// reason to stay silent (DESIGN.md "Errors and bad input" rule 2: not ours is a value, not an exception).
import type { Arch } from '../config/schema.js'
import type { ClientIdentity } from '../policy/types.js'
import { BOOTREQUEST, macOf, type DhcpPacket } from './packet.js'
import { MessageType, Opt, optClientArch, optClientUuid, optMessageType, optString, optUserClasses } from './options.js'

/** RFC 4578 §2.1 / IANA "Processor Architecture Types" → the config's arch names. */
export const ARCH_BY_CODE: ReadonlyMap<number, Arch> = new Map<number, Arch>([
  [0, 'bios'], [6, 'efi-ia32'], [7, 'efi-x64'], [9, 'efi-x64'], // 9 is "EFI BC": in practice x64
  [10, 'efi-arm32'], [11, 'efi-arm64'], [16, 'efi-x64-http'], [19, 'efi-arm64-http']
])

export type Via = 'dhcp' | 'proxy'   // arrived on ports.dhcp (67) or ports.proxyDhcp (4011)
export type Mode = 'proxy' | 'full'

export interface PxeClient extends ClientIdentity {
  /** option 93 value actually used (first of the list), or the one parsed from option 60 */
  archCode: number
  vendorClass: string
  userClasses: string[]
  /** already running iPXE (user class "iPXE" or option 175): answer with the HTTP script, not a loader */
  isIpxe: boolean
  /** x64/arm64 UEFI HTTP Boot (vendor class HTTPClient): the boot file is a URL */
  httpBoot: boolean
}

export interface Classified {
  kind: 'request'
  messageType: number
  mac: string
  via: Via
  /** giaddr ≠ 0: came through a relay agent (RFC 2131 §4.1) */
  relayed: boolean
  /** set for PXE/HTTP-boot firmware (option 60 PXEClient… or HTTPClient…) */
  pxe?: PxeClient
  packet: DhcpPacket
}

export type IgnoreReason =
  | 'not-a-request'          // op is BOOTREPLY: another server's answer
  | 'not-ethernet'           // htype/hlen not 1/6: no MAC to key on
  | 'not-dhcp'               // no option 53: plain BOOTP
  | 'unexpected-message'     // a message type this mode/port does not answer
  | 'not-pxe'                // proxy mode and no PXEClient/HTTPClient vendor class
  | 'unsupported-arch'       // PXE client with an option 93 we have no loader for

export interface Ignored { kind: 'ignore', reason: IgnoreReason, detail?: string }

const ignore = (reason: IgnoreReason, detail?: string): Ignored => ({ kind: 'ignore', reason, detail })

/** Which message types each (mode, port) answers. RFC 2131 §4.3; PXE spec 2.1 §2.2 for 4011. */
function accepts (mode: Mode, via: Via, mt: number, isPxe: boolean): boolean {
  // PXE boot-server discovery on 4011: a unicast REQUEST answered by an ACK, in both modes.
  if (via === 'proxy') return mt === MessageType.REQUEST && isPxe
  // proxyDHCP on 67 answers DISCOVER only: the site's DHCP server owns REQUEST/ACK.
  if (mode === 'proxy') return mt === MessageType.DISCOVER
  return mt === MessageType.DISCOVER || mt === MessageType.REQUEST || mt === MessageType.DECLINE ||
    mt === MessageType.RELEASE || mt === MessageType.INFORM
}

function archFromVendorClass (vc: string): number | undefined {
  // PXE spec 2.1 §2.2.4 / UEFI 2.x §24.7: "PXEClient:Arch:xxxxx:UNDI:yyyzzz"
  const m = /:Arch:(\d{5})/.exec(vc)
  return m !== null ? Number(m[1]) : undefined
}

function pxeClient (p: DhcpPacket, mac: string, vendorClass: string): PxeClient | Ignored {
  const archList = optClientArch(p.options)
  const archCode = archList?.[0] ?? archFromVendorClass(vendorClass) ?? 0
  const arch = ARCH_BY_CODE.get(archCode)
  if (arch === undefined) return ignore('unsupported-arch', `option 93 = ${archCode}`)
  const userClasses = optUserClasses(p.options) ?? []
  const uuid = optClientUuid(p.options)
  const c: PxeClient = {
    mac,
    arch,
    archCode,
    vendorClass,
    userClasses,
    isIpxe: userClasses.includes('iPXE') || p.options.has(Opt.IPXE),
    httpBoot: vendorClass.startsWith('HTTPClient')
  }
  // An all-zero GUID (QEMU without -uuid, many cheap boards) identifies nothing: leave it out.
  if (uuid !== undefined && uuid !== '00000000-0000-0000-0000-000000000000') c.uuid = uuid
  return c
}

export function classify (p: DhcpPacket, via: Via, mode: Mode): Classified | Ignored {
  if (p.op !== BOOTREQUEST) return ignore('not-a-request')
  if (p.htype !== 1 || p.hlen !== 6) return ignore('not-ethernet', `htype ${p.htype} hlen ${p.hlen}`)
  const mt = optMessageType(p.options)
  if (mt === undefined) return ignore('not-dhcp')
  const vendorClass = optString(p.options, Opt.VENDOR_CLASS) ?? ''
  const isPxe = vendorClass.startsWith('PXEClient') || vendorClass.startsWith('HTTPClient')
  if (!accepts(mode, via, mt, isPxe)) return ignore('unexpected-message', `type ${mt} on ${via} port in ${mode} mode`)
  if (!isPxe && mode === 'proxy') return ignore('not-pxe')
  const mac = macOf(p)
  const out: Classified = { kind: 'request', messageType: mt, mac, via, relayed: p.giaddr !== '0.0.0.0', packet: p }
  if (isPxe) {
    const c = pxeClient(p, mac, vendorClass)
    if ('kind' in c) {
      // Full mode still gives an address to a PXE client we cannot boot; it just gets no boot file.
      if (mode === 'proxy') return c
    } else {
      out.pxe = c
    }
  }
  return out
}
