// Shared fixtures for the DHCP tests: a complete AppConfig and client packets built field by field.
import type { AppConfig } from '../../src/config/schema.js'
import { BOOTREQUEST, type DhcpPacket } from '../../src/dhcp/packet.js'
import { MessageType, Opt, ipToBuffer } from '../../src/dhcp/options.js'

export const SERVER = '10.99.0.1'

export function testConfig (patch: { dhcp?: Partial<AppConfig['dhcp']>, ports?: Partial<AppConfig['ports']>, server?: Partial<AppConfig['server']>, bootLoaders?: Partial<AppConfig['bootLoaders']> } = {}): AppConfig {
  const cfg = {
    source: '<test>',
    httpBaseUrl: `http://${patch.server?.address ?? SERVER}:8080`,
    server: { address: SERVER, bind: '0.0.0.0', ...patch.server },
    ports: { dhcp: 67, dhcpClient: 68, proxyDhcp: 4011, tftp: 69, http: 8080, ...patch.ports },
    dhcp: { mode: 'proxy', responseDelayMs: 0, answer: 'all', busyPollMicroseconds: 300, batchReceive: true, threadPriorityBoost: 5, ...patch.dhcp },
    tftp: { enabled: true, root: '/usr/lib/ipxe', maxTransfers: 1000, maxTransfersPerClient: 8, cacheBytes: 0, maxBlksize: 65464, maxWindowsize: 64, retries: 6, timeoutMs: 1000, busyPollMicroseconds: 200 },
    http: { enabled: true, menuTimeoutSeconds: 10 },
    bootLoaders: { bios: 'undionly.kpxe', efiIa32: 'ipxe-ia32.efi', efiX64: 'ipxe.efi', efiArm64: 'ipxe-arm64.efi', httpX64: 'ipxe.efi', httpArm64: 'ipxe-arm64.efi', ...patch.bootLoaders },
    paths: { images: '/tmp/images', state: '/tmp/state', pe: '/tmp/pe', files: '/tmp/files' },
    deployment: { checkInTimeoutMinutes: 60, tokenTtlMinutes: 1440 },
    images: [], taskSequences: [], collections: [], advertisements: [], protected: []
  }
  return cfg as unknown as AppConfig
}

export const FULL = { poolStart: '10.99.0.100', poolEnd: '10.99.0.119', subnetMask: '255.255.255.0', router: '10.99.0.1', dns: ['10.99.0.53'], domain: 'lab.test', leaseSeconds: 600, reservations: [] as Array<{ mac: string, ip: string, hostname?: string }> }

export interface ClientSpec {
  type?: number
  mac?: string
  xid?: number
  arch?: number | null          // null: no option 93
  vendorClass?: string | null   // null: no option 60; default PXEClient:Arch:<arch>
  ipxe?: boolean                // user class "iPXE" + option 175
  giaddr?: string
  ciaddr?: string
  flags?: number
  uuid?: Buffer
  requested?: string
  serverId?: string
  relayInfo?: Buffer
}

export function clientPacket (s: ClientSpec = {}): DhcpPacket {
  const o = new Map<number, Buffer>()
  o.set(Opt.MESSAGE_TYPE, Buffer.from([s.type ?? MessageType.DISCOVER]))
  const arch = s.arch === undefined ? 0 : s.arch
  if (arch !== null) o.set(Opt.CLIENT_ARCH, Buffer.from([arch >> 8, arch & 0xff]))
  const http = arch === 16 || arch === 19
  const vc = s.vendorClass === undefined ? `${http ? 'HTTPClient' : 'PXEClient'}:Arch:${String(arch ?? 0).padStart(5, '0')}:UNDI:003016` : s.vendorClass
  if (vc !== null) o.set(Opt.VENDOR_CLASS, Buffer.from(vc))
  if (s.ipxe === true) {
    o.set(Opt.USER_CLASS, Buffer.from('iPXE'))
    o.set(Opt.IPXE, Buffer.from([0xeb, 3, 1, 0, 0, 0xff]))
  }
  o.set(Opt.CLIENT_UUID, s.uuid ?? Buffer.from('00' + '1e6d2f8a4c3b5e4d9f607a8b9c0d1e2f', 'hex'))
  if (s.requested !== undefined) o.set(Opt.REQUESTED_IP, ipToBuffer(s.requested))
  if (s.serverId !== undefined) o.set(Opt.SERVER_ID, ipToBuffer(s.serverId))
  if (s.relayInfo !== undefined) o.set(Opt.RELAY_AGENT, s.relayInfo)
  return {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: s.giaddr !== undefined ? 1 : 0, xid: s.xid ?? 0x1234abcd, secs: 4, flags: s.flags ?? 0,
    ciaddr: s.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: s.giaddr ?? '0.0.0.0',
    chaddr: Buffer.from((s.mac ?? '52:54:00:12:34:56').split(':').map(h => parseInt(h, 16))),
    sname: '', file: '', options: o
  }
}
