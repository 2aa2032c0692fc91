// Synthetic PXE requests for the start-up warm-up (DhcpSockets.warmUp sends them over loopback through the real
// socket handler, Responder, gate and Inventory before the real sockets open), so V8 has compiled the hot path,
// with the type feedback real firmware produces, when the first burst arrives. Measured in bench/dhcp: a cold
// process answered the first second of a 5,000/s storm milliseconds late, and a warm-up on a separate Responder
// (other gate, other send function, other store) still left `wrong map` / `wrong call target` deopts for the
// first real packets. The packets copy the option sets of the clients in test/fixtures/dhcp (SeaBIOS's iPXE ROM,
// OVMF x64/IA32, AAVMF, chained iPXE, perfdhcp as a relay) plus a BIOS PXE ROM without iPXE, x64 and ARM64 UEFI
// HTTP Boot and 4011 boot-item requests: every boot file bootFileFor (proxy.ts) can choose.
import { BOOTREQUEST, encode, type DhcpPacket } from './packet.js'
import { MessageType, Opt, PxeSub, encodeSubOptions } from './options.js'
import type { Via } from './classify.js'
import type { Machine, MachineStore } from '../store/types.js'

/** UEFI firmware's parameter request list (OVMF, AAVMF). */
const UEFI_PARAMS = [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97,
  128, 129, 130, 131, 132, 133, 134, 135]
/** A BIOS PXE ROM's parameter request list (PXE spec 2.1 §2.2.1: the options a PXE client asks for, 128–135 included). */
const BIOS_PARAMS = [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 67, 128, 129, 130, 131, 132, 133, 134, 135]
/** iPXE's parameter request list. */
const IPXE_PARAMS = [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]
/** iPXE's encapsulated feature flags (option 175), as SeaBIOS's iPXE ROM sends them. */
const IPXE_175 = Buffer.from('b105018086100eeb03010000170101220101130101110101270101190101290101100102210101150101180101120101', 'hex')

interface Template { arch: number, vendor: 'PXEClient' | 'HTTPClient', undi: string, ipxe: boolean, params: number[], clientId: boolean }

const TEMPLATES: Template[] = [
  { arch: 0, vendor: 'PXEClient', undi: '002001', ipxe: true, params: IPXE_PARAMS, clientId: true },       // SeaBIOS iPXE ROM
  { arch: 7, vendor: 'PXEClient', undi: '003000', ipxe: false, params: UEFI_PARAMS, clientId: false },     // OVMF x64
  { arch: 7, vendor: 'PXEClient', undi: '003016', ipxe: false, params: [1, 28, 2, 3, 15, 6, 12], clientId: true }, // perfdhcp
  { arch: 11, vendor: 'PXEClient', undi: '003000', ipxe: false, params: UEFI_PARAMS, clientId: false },    // AAVMF
  { arch: 7, vendor: 'PXEClient', undi: '003000', ipxe: true, params: IPXE_PARAMS, clientId: true },       // chained iPXE
  { arch: 6, vendor: 'PXEClient', undi: '003000', ipxe: false, params: UEFI_PARAMS, clientId: false },     // OVMF IA32
  { arch: 16, vendor: 'HTTPClient', undi: '003000', ipxe: false, params: UEFI_PARAMS, clientId: false },   // UEFI HTTP Boot
  { arch: 0, vendor: 'PXEClient', undi: '002001', ipxe: false, params: BIOS_PARAMS, clientId: false },     // a BIOS PXE ROM
  { arch: 19, vendor: 'HTTPClient', undi: '003000', ipxe: false, params: UEFI_PARAMS, clientId: false }    // ARM64 HTTP Boot
]

/**
 * Distinct machines of the warm-up: request i comes from machine i mod WARM_UP_MACHINES, so that most machines ask
 * again (as firmware retries and as a storm's clients do), and the inventory's "seen recently" path is run too.
 * Measured in bench/dhcp: with a new MAC per request that path was first run by the storm, and Inventory.admit was
 * deoptimized (`Insufficient type feedback`) and recompiled on the serving thread's CPU in its first second.
 */
export const WARM_UP_MACHINES = 8192

/** MACs of the warm-up: locally administered, prefix 02:6e:62 ("nb"); never written to the real inventory. */
function warmUpMac (i: number): Buffer {
  const m = i % WARM_UP_MACHINES
  return Buffer.from([0x02, 0x6e, 0x62, 0, (m >> 8) & 0xff, m & 0xff])
}

export interface WarmUpDatagram { buf: Buffer, via: Via }

/**
 * The i-th request of the warm-up: the templates in turn, every other one relayed (giaddr set), every eighth a
 * 4011 REQUEST for boot item 1 (PXE spec 2.1 §2.2.6); all carry a client NDI as firmware does. The MAC
 * is machine i mod WARM_UP_MACHINES's.
 */
export function warmUpPacket (i: number): WarmUpDatagram {
  const t = TEMPLATES[i % TEMPLATES.length]
  const boot = i % 8 === 7 && t.vendor === 'PXEClient'
  const mac = warmUpMac(i)
  const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, Buffer.from([boot ? MessageType.REQUEST : MessageType.DISCOVER])]])
  options.set(Opt.MAX_MESSAGE_SIZE, Buffer.from([0x05, 0xc0]))
  options.set(Opt.PARAM_LIST, Buffer.from(t.params))
  if (t.clientId) options.set(Opt.CLIENT_ID, Buffer.concat([Buffer.from([1]), mac]))
  // Option 97 as firmware sends it: mostly a GUID; none at all (perfdhcp, some NICs' ROMs), or all zeros (QEMU without
  // -uuid, cheap boards) in one request of seven each. Without them the first real request lacking a GUID
  // deoptimized optClientUuid (`not a Smi`) and classify (`wrong map`: a PxeClient without uuid), test/dhcp/
  // warmup-deopt.test.ts.
  const uuidKind = i % 7
  if (uuidKind !== 5) {
    const uuid = Buffer.alloc(17)
    if (uuidKind !== 6) {
      uuid.writeUInt32BE(0x5c0a1b2c ^ i, 1)
      uuid.writeUInt32BE(0x8162738f, 13)
    }
    options.set(Opt.CLIENT_UUID, uuid)
  }
  options.set(Opt.CLIENT_NDI, Buffer.from([1, 3, t.arch === 0 ? 1 : 0]))
  options.set(Opt.CLIENT_ARCH, Buffer.from([0, t.arch]))
  options.set(Opt.VENDOR_CLASS, Buffer.from(`${t.vendor}:Arch:${String(t.arch).padStart(5, '0')}:UNDI:${t.undi}`))
  if (t.ipxe) {
    options.set(Opt.USER_CLASS, Buffer.from('iPXE'))
    options.set(Opt.IPXE, IPXE_175)
  }
  if (boot) options.set(Opt.VENDOR_SPECIFIC, encodeSubOptions(new Map([[PxeSub.BOOT_ITEM, Buffer.from([0x80, 0x00, 0, 0])]])))
  const p: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: i % 2, xid: (0x6e620000 + i) >>> 0, secs: i % 4, flags: i % 3 === 0 ? 0x8000 : 0,
    ciaddr: boot ? '192.0.2.99' : '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: !boot && i % 2 === 1 ? '192.0.2.1' : '0.0.0.0', chaddr: mac, sname: '', file: '', options
  }
  return { buf: encode(p), via: boot ? 'proxy' : 'dhcp' }
}

/**
 * The machine store the Inventory writes to during the warm-up: it takes every call and keeps nothing, so the
 * synthetic MACs never reach the real inventory (the Responder switches back before the real sockets open).
 */
export function warmUpMachineStore (): MachineStore {
  const machine = (mac: string): Machine => ({ mac, firstSeen: '', lastSeen: '' })
  return {
    get: async () => undefined,
    recordSighting: async (s) => machine(s.mac),
    recordSightings: async (list) => list.map(e => machine(e.sighting.mac)),
    ping: async () => {},
    update: async (mac) => machine(mac),
    list: async () => []
  }
}
