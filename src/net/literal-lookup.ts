// A dgram `lookup` for sockets that only ever send to IP literals: resolves synchronously instead of through
// dns.lookup, which defers every datagram by a process.nextTick and a closure (measurable in TFTP lockstep, one
// send per ACK; on the DHCP reply path it was `afterDns` in every profile).
import type dgram from 'node:dgram'

export const literalLookup = ((address: string, _o: unknown, cb: (err: Error | null, address: string, family: number) => void): void => {
  cb(null, address, 4)
}) as unknown as dgram.SocketOptions['lookup']
