// Synthetic PXE requests for the start-up warm-up (DhcpSockets.warmUp sends them over loopback through the real
// socket handler, Responder, gate and Inventory before the real sockets open), so V8 has compiled the hot path,
// with the type feedback real firmware produces, when the first burst arrives. Measured in bench/dhcp: a cold
// process answered the first second of a 5,000/s storm milliseconds late, and a warm-up on a separate Responder
// (other gate, other send function, other store) still left `wrong map` / `wrong call target` deopts for the
// first real packets. The packets copy the option sets of the clients in test/fixtures/dhcp (SeaBIOS's iPXE ROM,
// OVMF x64/IA32, AAVMF, chained iPXE, perfdhcp as a relay) plus a BIOS PXE ROM without iPXE, x64 and ARM64 UEFI
// HTTP Boot and 4011 boot-item requests: every boot file bootFileFor (proxy.ts) can choose.
import { BOOTREPLY, BOOTREQUEST, encode, type DhcpPacket } from './packet.js'
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

/**
 * Transaction ids spread over all 32 bits, as firmware picks them at random: half are above 2^31, which V8 holds as
 * heap numbers, not small integers. With ids below 2^31 only, the first real one above deoptimized decode (`lost
 * precision or NaN`, test/dhcp/warmup-deopt.test.ts).
 */
function warmUpXid (i: number): number {
  return Math.imul(i + 1, 0x9e3779b1) >>> 0
}

/**
 * One warm-up request, and `noise` to send just before it: a datagram the appliance must stay silent to (see
 * warmUpNoise), so that replies still pace the warm-up one for one.
 */
export interface WarmUpDatagram { buf: Buffer, via: Via, noise?: { buf: Buffer, via: Via } }

/** One request in this many is preceded by noise. */
const NOISE_EVERY = 16

/**
 * What else reaches a proxyDHCP's ports on a real network, which it must drop without a word: other machines' plain
 * DHCP (no PXE vendor class: phones, PCs; DESIGN.md, stay silent), other servers' replies, and malformed datagrams
 * (the four ways test/dhcp/lab/dhcp_client.py breaks them, and bytes at random). Without it the first such datagram
 * after start-up deoptimized classify and Responder.handleUnsafe (test/dhcp/warmup-deopt.test.ts).
 */
function warmUpNoise (i: number, valid: Buffer): { buf: Buffer, via: Via } | undefined {
  if (i % NOISE_EVERY !== NOISE_EVERY - 1) return undefined
  const kind = (i / NOISE_EVERY | 0) % 8
  switch (kind) {
    case 0: case 1: {   // a plain DISCOVER, then a plain REQUEST (requested address, server id), from a non-PXE client
      const mac = warmUpMac(i)
      const options = new Map<number, Buffer>([[Opt.MESSAGE_TYPE, Buffer.from([kind === 0 ? MessageType.DISCOVER : MessageType.REQUEST])]])
      options.set(Opt.CLIENT_ID, Buffer.concat([Buffer.from([1]), mac]))
      if (kind === 1) { options.set(Opt.REQUESTED_IP, Buffer.from([192, 0, 2, 50])); options.set(Opt.SERVER_ID, Buffer.from([192, 0, 2, 1])) }
      options.set(Opt.PARAM_LIST, Buffer.from([1, 3, 6, 15, 31, 33, 43, 44, 46, 47, 119, 121, 249, 252]))
      options.set(Opt.VENDOR_CLASS, Buffer.from('MSFT 5.0'))
      const p: DhcpPacket = {
        op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: warmUpXid(i) ^ 1, secs: 0, flags: 0, ciaddr: '0.0.0.0',
        yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: i % 2 === 1 ? '192.0.2.1' : '0.0.0.0', chaddr: mac, sname: '', file: '', options
      }
      return { buf: encode(p), via: 'dhcp' }
    }
    case 2: return { buf: valid.subarray(0, 100 + (i % 100)), via: 'dhcp' }   // cut inside the fixed header
    case 3: {   // a broken magic cookie, any of its bytes (one with the top bit set is above 2^31: a heap number to V8)
      const m = (i / (NOISE_EVERY * 8)) | 0
      const b = Buffer.from(valid)
      b[236 + (m % 4)] ^= 0x80 | (m & 0x7f)
      return { buf: b, via: 'proxy' }
    }
    case 4: return { buf: Buffer.concat([valid.subarray(0, 243), Buffer.from([200])]), via: 'dhcp' }   // an option past the end
    case 5: case 6: {   // bytes at random (a fixed sequence: the same warm-up at every start); with op 1, they get
      // past the first check to the others (hlen, cookie, options)
      const b = Buffer.alloc(64 + (i % 600))
      let x = i | 1
      for (let k = 0; k < b.length; k++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; b[k] = x >>> 24 }
      if (kind === 6) b[0] = BOOTREQUEST
      return { buf: b, via: i % 2 === 0 ? 'proxy' : 'dhcp' }
    }
    default: {   // a BOOTREPLY: another DHCP server's OFFER, relayed to port 67 (RFC 2131 §4.1)
      const b = Buffer.from(valid)
      b[0] = BOOTREPLY
      return { buf: b, via: 'dhcp' }
    }
  }
}

/**
 * The i-th request of the warm-up: the templates in turn, every other one relayed (giaddr set), every eighth a
 * 4011 REQUEST for boot item 1 (PXE spec 2.1 §2.2.6); all carry a client NDI as firmware does. The MAC
 * is machine i mod WARM_UP_MACHINES's. One in NOISE_EVERY comes with noise to send before it.
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
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: i % 2, xid: warmUpXid(i), secs: i % 4, flags: i % 3 === 0 ? 0x8000 : 0,
    ciaddr: boot ? '192.0.2.99' : '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0',
    giaddr: !boot && i % 2 === 1 ? '192.0.2.1' : '0.0.0.0', chaddr: mac, sname: '', file: '', options
  }
  const buf = encode(p)
  const noise = warmUpNoise(i, buf)
  return noise === undefined ? { buf, via: boot ? 'proxy' : 'dhcp' } : { buf, via: boot ? 'proxy' : 'dhcp', noise }
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
