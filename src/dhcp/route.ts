// Where a reply goes: RFC 2131 §4.1 ("If the 'giaddr' field … is not zero, the server sends any return messages
// to the 'DHCP server' port on the BOOTP relay agent whose address appears in 'giaddr'…") and PXE spec 2.1 §2.2
// for boot-server (4011) replies, which go straight back to the sender. Pure.
import type { DhcpPacket } from './packet.js'
import type { Via } from './classify.js'

export interface Destination { address: string, port: number, broadcast: boolean }

export interface ReplyPorts { dhcp: number, dhcpClient: number }

export const BROADCAST = '255.255.255.255'

/**
 * `from` is the UDP source of the request. `nak`: NAKs to non-relayed clients are always broadcast (§4.1).
 * Without a relay or ciaddr we broadcast even when the broadcast flag is clear: unicasting to yiaddr needs an ARP
 * entry for an address the client does not hold yet, which a plain UDP socket cannot add.
 */
export function replyDestination (req: DhcpPacket, via: Via, from: { address: string, port: number },
  ports: ReplyPorts, nak = false): Destination {
  if (via === 'proxy') return { address: from.address, port: from.port, broadcast: false }
  if (req.giaddr !== '0.0.0.0') return { address: req.giaddr, port: ports.dhcp, broadcast: false }
  if (nak) return { address: BROADCAST, port: ports.dhcpClient, broadcast: true }
  // §4.1: a non-zero ciaddr wins over the broadcast flag (the client has that address and answers ARP).
  if (req.ciaddr !== '0.0.0.0') {
    return { address: req.ciaddr, port: ports.dhcpClient, broadcast: false }
  }
  return { address: BROADCAST, port: ports.dhcpClient, broadcast: true }
}
