#!/usr/bin/env bash
# Regenerates the golden DHCP packets in test/fixtures/dhcp/ from real clients, inside a network namespace
# this script creates (nbd-cap) and deletes on exit. Nothing touches the host's interfaces.
#   QEMU SeaBIOS + Debian's iPXE NIC ROM (pxe-e1000.rom)  → "bios-rom-*"   (an iPXE already: user class iPXE)
#   …which dnsmasq chains into undionly.kpxe              → "bios-chain-*" (the chained iPXE's second DHCP)
#   QEMU OVMF, virtio-net without option ROM (EDK2's own VirtioNetDxe + PxeBcDxe) → "ovmf-*" (PXEClient:Arch:00007)
#   …which dnsmasq chains into ipxe.efi                    → "ovmf-chain-*"
#   perfdhcp with PXE options (relay mode, giaddr set)     → "perfdhcp-*"
# Usage: sudo bash test/dhcp/lab/capture.sh [outdir]   (about 2 minutes under TCG)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../../fixtures/dhcp}
NS=nbd-cap
WORK=$(mktemp -d /tmp/nbd-cap.XXXXXX)
PIDS=()
cleanup () {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
nsx () { ip netns exec "$NS" "$@"; }
nsx ip link set lo up
nsx ip link add nbd-br type bridge
nsx ip tuntap add nbd-tap0 mode tap
nsx ip link set nbd-tap0 master nbd-br
nsx ip addr add 10.77.0.1/24 dev nbd-br
nsx ip -6 addr add fd77::1/64 dev nbd-br nodad
nsx ip link set nbd-tap0 up
nsx ip link set nbd-br up

nsx tcpdump -i lo -U -w "$WORK/perfdhcp.pcap" 'udp port 67 or udp port 68' 2>/dev/null &
PIDS+=($!)
sleep 1
echo "capture: perfdhcp with PXE options (before dnsmasq: both want port 67)"
# arch 7, vendor class PXEClient:Arch:00007:UNDI:003016, client GUID (type 0 + 16 bytes)
nsx timeout 5 perfdhcp -4 -l 10.77.0.1 -r 1 -n 1 -R 1 \
  -o 60,505845436c69656e743a417263683a30303030373a554e44493a303033303136 \
  -o 93,0007 -o 94,010310 -o 97,00112233445566778899aabbccddeeff00 \
  10.77.0.1 >/dev/null 2>&1 || true
# dnsmasq as the reference full DHCP + TFTP server; the IPv6 RA keeps iPXE from stalling (DESIGN.md).
nsx dnsmasq -k --conf-file=/dev/null --port=0 --interface=nbd-br --bind-interfaces \
  --dhcp-range=10.77.0.100,10.77.0.200,1h --dhcp-range=fd77::,ra-only --enable-ra \
  --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
  --enable-tftp --tftp-root=/usr/lib/ipxe \
  --dhcp-match=set:efi64,option:client-arch,7 \
  --dhcp-boot=tag:!efi64,undionly.kpxe --dhcp-boot=tag:efi64,ipxe.efi \
  --log-dhcp --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)
nsx tcpdump -i nbd-br -U -w "$WORK/qemu.pcap" 'udp port 67 or udp port 68 or udp port 4011' 2>/dev/null &
PIDS+=($!)
sleep 1

echo "capture: SeaBIOS + iPXE ROM (40 s)"
nsx timeout 40 qemu-system-x86_64 -accel tcg -m 256 -display none -serial none -monitor none -no-reboot \
  -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
  -device e1000,netdev=n0,mac=52:54:00:77:00:01 -uuid 8a2f6d1e-3b4c-4d5e-9f60-7a8b9c0d1e2f -boot n || true

echo "capture: OVMF UEFI PXE (90 s)"
cp /usr/share/OVMF/OVMF_VARS.fd "$WORK/vars.fd"
nsx timeout 90 qemu-system-x86_64 -accel tcg -m 512 -display none -serial none -monitor none -no-reboot \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
  -drive if=pflash,format=raw,file="$WORK/vars.fd" \
  -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
  -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:02,romfile=,disable-legacy=on \
  -uuid 5c0a1b2c-3d4e-4f50-8162-738495a6b7c8 -boot n || true

sleep 1
/usr/bin/python3 "$HERE/split-pcap.py" "$OUT" "$WORK/qemu.pcap" "$WORK/perfdhcp.pcap"
