# PXE client stand-in for serve-netns.test.ts: broadcast one BIOS PXE DHCPDISCOVER (options 60, 93, 94, 97) on
# IFACE with scapy and print the first reply as JSON. Run inside the client namespace (root, raw socket).
import sys, json
from scapy.all import Ether, IP, UDP, BOOTP, DHCP, srp1, conf, get_if_hwaddr
iface = sys.argv[1]
conf.checkIPaddr = False
mac = get_if_hwaddr(iface)
chaddr = bytes.fromhex(mac.replace(':', ''))
pkt = (Ether(src=mac, dst='ff:ff:ff:ff:ff:ff') / IP(src='0.0.0.0', dst='255.255.255.255') / UDP(sport=68, dport=67) /
       BOOTP(chaddr=chaddr, xid=0x1234abcd, flags=0x8000) /
       DHCP(options=[('message-type', 'discover'), ('vendor_class_id', b'PXEClient:Arch:00000:UNDI:002001'),
                     (93, b'\x00\x00'), (94, b'\x01\x02\x01'), (97, b'\x00' + bytes(range(16))), 'end']))
r = srp1(pkt, iface=iface, timeout=8, verbose=0)
if r is None:
    print(json.dumps({'reply': None})); sys.exit(1)
b = r[BOOTP]
opts = {str(o[0]): (o[1].decode('latin1') if isinstance(o[1], bytes) else str(o[1])) for o in r[DHCP].options if isinstance(o, tuple)}
print(json.dumps({'reply': True, 'dst': r[IP].dst, 'op': b.op, 'xid': b.xid, 'yiaddr': b.yiaddr, 'siaddr': b.siaddr,
                  'file': b.file.rstrip(b'\0').decode(), 'options': opts}))
