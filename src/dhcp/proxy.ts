// Builds replies (pure): the proxyDHCP OFFER/ACK of PXE spec 2.1 §2.2, and the boot part that full-DHCP
// replies share. The boot file follows option 93 (DESIGN.md protocol notes); iPXE gets its HTTP script.
import type { AppConfig } from '../config/schema.js'
import { BOOTREPLY, type DhcpPacket } from './packet.js'
import { MessageType, Opt, PxeSub, decodeSubOptions, encodePxeVendorOptions, ipToBuffer, type DhcpOptions } from './options.js'
import type { Classified, PxeClient } from './classify.js'
import { SHIM_PATH } from '../secureboot/files.js'

export interface BootFile {
  /** TFTP path or, for HTTP Boot and iPXE, a URL */
  file: string
  /** option 60 in the reply */
  vendorClass: 'PXEClient' | 'HTTPClient'
  tftp: boolean
}

/** The boot file for a client, or undefined when the config has no loader for its arch (efi-arm32). */
export function bootFileFor (c: PxeClient, cfg: AppConfig): BootFile | undefined {
  const vendorClass = c.httpBoot ? 'HTTPClient' : 'PXEClient'
  // No chainload loop: iPXE already runs, give it the HTTP entry script (DESIGN.md).
  if (c.isIpxe) return { file: `${cfg.httpBaseUrl}/boot.ipxe`, vendorClass, tftp: false }
  const l = cfg.bootLoaders
  switch (c.arch) {
    case 'bios': return { file: l.bios, vendorClass, tftp: true }
    case 'efi-ia32': return { file: l.efiIa32, vendorClass, tftp: true }
    // Secure Boot chain: firmware with Secure Boot on refuses iPXE (not signed by a key in db); shim is.
    case 'efi-x64': return { file: l.secureBoot ? SHIM_PATH : l.efiX64, vendorClass, tftp: true }
    case 'efi-arm64': return { file: l.efiArm64, vendorClass, tftp: true }
    // UEFI 2.x §24.7 HTTP Boot: the "file" is a URI and option 60 must say HTTPClient.
    case 'efi-x64-http': return { file: l.secureBoot ? `${cfg.httpBaseUrl}/${SHIM_PATH}` : `${cfg.httpBaseUrl}/loaders/${l.httpX64}`, vendorClass: 'HTTPClient', tftp: false }
    case 'efi-arm64-http': return { file: `${cfg.httpBaseUrl}/loaders/${l.httpArm64}`, vendorClass: 'HTTPClient', tftp: false }
    default: return undefined
  }
}

// Option values that only change with the config, built once per value instead of per packet (the hot path).
// Never mutated after they are put into a reply: encode() copies them.
const VENDOR_CLASS_VALUE = { PXEClient: Buffer.from('PXEClient', 'latin1'), HTTPClient: Buffer.from('HTTPClient', 'latin1') }
let serverIdFor = ''; let serverIdValue: Buffer = Buffer.alloc(4)
let tftpFor = ''; let tftpValue: Buffer = Buffer.alloc(0)
function serverId (address: string): Buffer {
  if (address !== serverIdFor) { serverIdValue = ipToBuffer(address); serverIdFor = address }
  return serverIdValue
}
function tftpServer (address: string): Buffer {
  if (address !== tftpFor) { tftpValue = Buffer.from(address, 'latin1'); tftpFor = address }
  return tftpValue
}

/** The reply skeleton of RFC 2131 Table 3: xid, flags, giaddr and chaddr copied; option 53 first, then 54. */
export function baseReply (req: DhcpPacket, type: number, serverAddress: string): DhcpPacket {
  const options: DhcpOptions = new Map()
  options.set(Opt.MESSAGE_TYPE, Buffer.from([type]))
  options.set(Opt.SERVER_ID, serverId(serverAddress))
  return {
    op: BOOTREPLY,
    htype: req.htype,
    hlen: req.hlen,
    hops: 0,
    xid: req.xid,
    secs: 0,
    flags: req.flags,
    ciaddr: type === MessageType.ACK ? req.ciaddr : '0.0.0.0',
    yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0',
    giaddr: req.giaddr,
    chaddr: req.chaddr,
    sname: '',
    file: '',
    options
  }
}

// PXE spec 2.1 §2.2.5 discovery control bit 3: "use the boot file in this offer", skipping boot-server
// discovery, so BIOS ROMs take the file from the proxy OFFER directly. Built once: it never changes.
const PXE_VENDOR_OPTIONS = encodePxeVendorOptions({ discoveryControl: 0x08 })

/**
 * PXE spec 2.1 §2.2.6 boot server discovery: a client that asks a boot server on 4011 for a boot item (option 43
 * sub-option 71: type, layer) expects the ACK to name that item back; firmware that checks (EDK2's PxeBcDhcp4
 * discover, Intel's PXE ROMs) drops an ACK without it and times out. Undefined when the request names no item.
 */
function bootItemEcho (req: DhcpPacket): Buffer | undefined {
  const v43 = req.options.get(Opt.VENDOR_SPECIFIC)
  if (v43 === undefined) return undefined
  const item = decodeSubOptions(v43)?.get(PxeSub.BOOT_ITEM)
  if (item === undefined || item.length !== 4) return undefined
  return encodePxeVendorOptions({ discoveryControl: 0x08, bootItem: { type: item.readUInt16BE(0), layer: item.readUInt16BE(2) } })
}

/** Adds next-server, file, 60, 66, 43 and the echoed 97 to a reply. */
export function addBootOptions (reply: DhcpPacket, req: DhcpPacket, boot: BootFile, cfg: AppConfig): void {
  reply.siaddr = cfg.server.address
  // The file field holds 127 bytes + NUL; a longer URL goes in option 67 (RFC 2132 §9.5) only.
  if (Buffer.byteLength(boot.file, 'latin1') <= 127) reply.file = boot.file
  else reply.options.set(Opt.BOOTFILE, Buffer.from(boot.file, 'latin1'))
  reply.options.set(Opt.VENDOR_CLASS, VENDOR_CLASS_VALUE[boot.vendorClass])
  if (boot.tftp) reply.options.set(Opt.TFTP_SERVER, tftpServer(cfg.server.address))
  if (boot.vendorClass === 'PXEClient') reply.options.set(Opt.VENDOR_SPECIFIC, bootItemEcho(req) ?? PXE_VENDOR_OPTIONS)
  const uuid = req.options.get(Opt.CLIENT_UUID)
  // PXE spec 2.1 §2.2: a proxy reply carries the client's GUID option back.
  if (uuid !== undefined) reply.options.set(Opt.CLIENT_UUID, uuid)
}

/** RFC 3046 §2.2: a server echoes the relay agent information option in replies to the relay. */
export function echoRelayInfo (reply: DhcpPacket, req: DhcpPacket): void {
  const ri = req.options.get(Opt.RELAY_AGENT)
  if (ri !== undefined && req.giaddr !== '0.0.0.0') reply.options.set(Opt.RELAY_AGENT, ri)
}

/**
 * proxyDHCP reply (PXE spec 2.1 §2.2): OFFER to a DISCOVER on 67, ACK to a REQUEST on 4011. yiaddr stays 0: the
 * site's DHCP server gives the address. Undefined when there is nothing to boot for this client.
 */
export function buildProxyReply (req: Classified, cfg: AppConfig): DhcpPacket | undefined {
  if (req.pxe === undefined) return undefined
  const boot = bootFileFor(req.pxe, cfg)
  if (boot === undefined) return undefined
  const type = req.messageType === MessageType.DISCOVER ? MessageType.OFFER : MessageType.ACK
  const reply = baseReply(req.packet, type, cfg.server.address)
  addBootOptions(reply, req.packet, boot, cfg)
  echoRelayInfo(reply, req.packet)
  return reply
}
