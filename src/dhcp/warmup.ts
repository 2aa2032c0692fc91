// Synthetic PXE requests for the start-up warm-up (server.ts warmUpUdp sends them over loopback before the real
// sockets open), so V8 has compiled the hot path when the first burst arrives: measured in bench/dhcp, a cold
// process answered the first second of a 5,000/s storm hundreds of milliseconds late. warmUpResponder: the whole
// per-packet pipeline against a stub store, answering over loopback only; no real store.
import { BOOTREQUEST, encode, type DhcpPacket } from './packet.js'
import { MessageType, Opt } from './options.js'
import { Responder } from './responder.js'
import type { AppContext } from '../service.js'
import type { Machine, MachineStore, Store } from '../store/types.js'
import { silentLogger } from '../log.js'

function sample (arch: number, ipxe: boolean, i: number): Buffer {
  const options = new Map<number, Buffer>([
    [Opt.MESSAGE_TYPE, Buffer.from([MessageType.DISCOVER])],
    [Opt.CLIENT_ARCH, Buffer.from([0, arch])],
    [Opt.VENDOR_CLASS, Buffer.from(`PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003016`)],
    [Opt.CLIENT_UUID, Buffer.alloc(17, i & 0xff)]
  ])
  if (ipxe) options.set(Opt.USER_CLASS, Buffer.from('iPXE'))
  const p: DhcpPacket = {
    op: BOOTREQUEST, htype: 1, hlen: 6, hops: 0, xid: i, secs: 0, flags: 0, ciaddr: '0.0.0.0', yiaddr: '0.0.0.0',
    siaddr: '0.0.0.0', giaddr: i % 2 === 0 ? '0.0.0.0' : '192.0.2.1', chaddr: Buffer.from([2, 0, 0, 0, i >> 8 & 0xff, i & 0xff]),
    sname: '', file: '', options
  }
  return encode(p)
}

/** The i-th synthetic PXE request of the warm-up: arches 0, 7, 11, 16; every third from iPXE; every other relayed. */
export function warmUpPacket (i: number): Buffer {
  const arches = [0, 7, 11, 16]
  return sample(arches[i % 4], i % 3 === 0, i)
}

/**
 * A Responder for the warm-up: the whole per-packet pipeline against a stub store; its replies go to `answer`
 * (loopback, see server.ts warmUpUdp), never to the address in the packet.
 */
export function warmUpResponder (ctx: AppContext, answer: (buf: Buffer) => Promise<void>): Responder {
  const machine = async (): Promise<Machine> => ({ mac: '02:00:00:00:00:00', firstSeen: '', lastSeen: '' })
  const machines: Pick<MachineStore, 'recordSighting' | 'recordSightings' | 'get' | 'ping'> = {
    recordSighting: machine, recordSightings: async () => [], get: async () => undefined, ping: async () => {}
  }
  const store = { machines } as unknown as Store
  return new Responder({ ...ctx, store, log: silentLogger }, { shouldAnswer: async () => true }, async (r) => { await answer(r.buf) })
}
