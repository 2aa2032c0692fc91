// The load generator and the capture, as bench.ts and diagnose.ts both run them: the same DISCOVERs and the same
// tcpdump for every measurement, so their figures compare.
import { CLIENT_IP, SERVER_IP } from '../../test/dhcp/lab/netns.js'

// arch 7 (EFI x64), PXEClient vendor class, GUID: what OVMF sends (test/fixtures/dhcp/ovmf-1-discover.parsed).
const PXE_OPTS = ['-o', '60,' + Buffer.from('PXEClient:Arch:00007:UNDI:003000').toString('hex'), '-o', '93,0007', '-o', '94,010300',
  '-o', '97,002c1b0a5c4e3d504f8162738495a6b7c8']

/**
 * perfdhcp as a relay (giaddr = CLIENT_IP, replies unicast to giaddr:67), DISCOVER/OFFER only (-i: a proxy gives no
 * address), `rate`/s for `seconds` from `clients` distinct MACs; -W: wait for late replies before exiting.
 */
export function perfdhcpArgs (rate: number, seconds: number, clients: number): string[] {
  return ['perfdhcp', '-4', '-i', '-l', CLIENT_IP, '-r', String(rate), '-p', String(seconds), '-R', String(clients), '-W', '1000000', ...PXE_OPTS, SERVER_IP]
}

/** tcpdump of the DHCP traffic on the client's interface into `pcap` (bench/dhcp/pcap.ts reads it). */
export function tcpdumpArgs (ifname: string, pcap: string): string[] {
  return ['tcpdump', '-i', ifname, '-B', '32768', '-s', '400', '-U', '-w', pcap, 'udp port 67']
}
