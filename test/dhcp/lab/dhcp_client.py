#!/usr/bin/python3
# A DHCP/PXE client built on scapy (an encoder independent of ours), for the netns tests.
#   dhcp_client.py '<json spec>'  → one JSON line per datagram received: {"phase","from","port","hex"}
# spec: server, bind_port (68), timeout (s), garbage (count of invalid datagrams sent first, to 67 and 4011),
#       packets: [{type, mac, xid, arch, ipxe, http, ciaddr, giaddr, flags, port, to}]
import json, os, random, select, socket, sys, time
from scapy.all import raw
from scapy.layers.dhcp import BOOTP, DHCP

spec = json.loads(sys.argv[1])
server = spec['server']
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
sock.bind(('0.0.0.0', spec.get('bind_port', 68)))
TYPES = {'discover': 1, 'request': 3, 'inform': 8}


def build(p):
    arch = p.get('arch', 0)
    http = arch in (16, 19)
    vc = ('HTTPClient' if http else 'PXEClient') + ':Arch:%05d:UNDI:003016' % arch
    opts = [('message-type', TYPES[p.get('type', 'discover')]), ('vendor_class_id', vc.encode()),
            (93, arch.to_bytes(2, 'big')), (94, b'\x01\x03\x10'),
            (97, b'\x00' + bytes.fromhex('1e6d2f8a4c3b5e4d9f607a8b9c0d1e2f'))]
    if p.get('ipxe'):
        opts += [('user_class', b'iPXE'), (175, b'\xeb\x03\x01\x00\x00')]
    opts.append('end')
    b = BOOTP(op=1, xid=p.get('xid', 0x1234), flags=p.get('flags', 0), ciaddr=p.get('ciaddr', '0.0.0.0'),
              giaddr=p.get('giaddr', '0.0.0.0'), hops=1 if 'giaddr' in p else 0,
              chaddr=bytes.fromhex(p.get('mac', '525400123456').replace(':', '')) + b'\x00' * 10)
    return raw(b / DHCP(options=opts))


def garbage(rng, valid):
    # Invalid by construction: random bytes (a valid cookie by chance is 1 in 2^32), or a valid packet
    # truncated inside the header, with a broken cookie, or with an option running past the end.
    k = rng.randrange(4)
    if k == 0:
        return os.urandom(rng.randrange(0, 700))
    if k == 1:
        return valid[:rng.randrange(0, 240)]
    if k == 2:
        b = bytearray(valid); b[236 + rng.randrange(4)] ^= 1 + rng.randrange(255); return bytes(b)
    return valid[:243] + bytes([200])


def collect(phase, seconds):
    end = time.time() + seconds
    while True:
        left = end - time.time()
        if left <= 0:
            return
        r, _, _ = select.select([sock], [], [], left)
        if r:
            data, (addr, port) = sock.recvfrom(4096)
            print(json.dumps({'phase': phase, 'from': addr, 'port': port, 'hex': data.hex()}), flush=True)


n = spec.get('garbage', 0)
if n:
    rng = random.Random(spec.get('seed', 1))
    valid = build({'type': 'discover', 'arch': 0})
    for i in range(n):
        sock.sendto(garbage(rng, valid), (server, 67 if i % 2 == 0 else spec.get('proxy_port', 4011)))
    collect('garbage', spec.get('garbage_wait', 1.5))
for p in spec.get('packets', []):
    sock.sendto(build(p), (p.get('to', server), p.get('port', 67)))
collect('reply', spec.get('timeout', 2))
