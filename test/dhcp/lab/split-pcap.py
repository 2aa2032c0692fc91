#!/usr/bin/python3
# Splits tcpdump captures into one .bin per DHCP message (the UDP payload), named
# <client>-<n>-<type>.bin: client from the MAC (see capture.sh), n = 1 for the client's first
# transaction (xid), 2 for its second (the chained iPXE), type = discover/request/offer/ack.
# Only the first message of each (client, n, type) is kept: retransmissions are redundant.
import sys
from scapy.all import rdpcap, UDP, BOOTP, DHCP  # noqa

NAMES = {'52:54:00:77:00:01': 'bios', '52:54:00:77:00:02': 'ovmf', '52:54:00:77:00:03': 'aavmf',
         '52:54:00:77:00:04': 'ovmf32', '52:54:00:77:00:05': 'ovmfhttp'}
TYPES = {1: 'discover', 2: 'offer', 3: 'request', 5: 'ack', 6: 'nak', 8: 'inform'}
out = sys.argv[1]
seen = set()
xids = {}
for path in sys.argv[2:]:
    for pkt in rdpcap(path):
        if UDP not in pkt or BOOTP not in pkt:
            continue
        raw = bytes(pkt[UDP].payload)
        mac = ':'.join('%02x' % b for b in raw[28:34])
        client = NAMES.get(mac, 'perfdhcp')
        mtype = None
        for opt in pkt[DHCP].options if DHCP in pkt else []:
            if isinstance(opt, tuple) and opt[0] == 'message-type':
                mtype = opt[1]
        if mtype not in TYPES:
            continue
        xid = int.from_bytes(raw[4:8], 'big')
        order = xids.setdefault(client, [])
        if xid not in order:
            if raw[0] != 1:
                continue
            order.append(xid)
        n = order.index(xid) + 1
        key = (client, n, mtype)
        if key in seen or n > 2:
            continue
        seen.add(key)
        name = '%s/%s-%d-%s.bin' % (out, client, n, TYPES[mtype])
        with open(name, 'wb') as f:
            f.write(raw)
        print('wrote', name, len(raw), 'bytes')
