#!/usr/bin/env bash
# Regenerates the golden DHCP packets in test/fixtures/dhcp/ from real clients, inside a network namespace
# this script creates (nbd-cap) and deletes on exit. Nothing touches the host's interfaces.
#   QEMU SeaBIOS + Debian's iPXE NIC ROM (pxe-e1000.rom)  → "bios-rom-*"   (an iPXE already: user class iPXE)
#   …which dnsmasq chains into undionly.kpxe              → "bios-chain-*" (the chained iPXE's second DHCP)
#   QEMU OVMF, virtio-net without option ROM (EDK2's own VirtioNetDxe + PxeBcDxe) → "ovmf-*" (PXEClient:Arch:00007)
#   …which dnsmasq chains into ipxe.efi                    → "ovmf-chain-*"
#   QEMU AAVMF (arm64, -M virt), virtio-net, EDK2's PXE     → "aavmf-*" (PXEClient:Arch:00011)
#   QEMU OVMF IA32 (q35 + SMM), virtio-net, EDK2's PXE      → "ovmf32-*" (PXEClient:Arch:00006)
#   QEMU OVMF, PXE off through fw_cfg: EDK2's HTTP Boot     → "ovmfhttp-*" (HTTPClient:Arch:00016; dnsmasq offers
#     a URL with option 60 HTTPClient, so the firmware goes on to REQUEST; nothing serves the URL)
#     (both TFTP a placeholder loader from a temp root: Debian's ipxe has no arm64/ia32 build, so no chain)
#   perfdhcp with PXE options (relay mode, giaddr set)     → "perfdhcp-*"
# Usage: sudo bash test/dhcp/lab/capture.sh [outdir [kind...]]   kinds: perfdhcp bios ovmf aavmf ovmf32 ovmfhttp (default
# all; about 3 minutes under TCG). Naming kinds rewrites only their files: xids are random, so a full run changes
# every fixture.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../../fixtures/dhcp}
shift || true
KINDS=" ${*:-perfdhcp bios ovmf aavmf ovmf32 ovmfhttp} "
want () { [[ "$KINDS" == *" $1 "* ]]; }
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
# Background processes start with `ip netns exec` itself, not nsx: it execs them, so $! is their own PID (of a
# backgrounded function, $! is a subshell, and cleanup killed that while dnsmasq and tcpdump lived on).
nsx ip link set lo up
nsx ip link add nbd-br type bridge
nsx ip tuntap add nbd-tap0 mode tap
nsx ip link set nbd-tap0 master nbd-br
nsx ip addr add 10.77.0.1/24 dev nbd-br
nsx ip -6 addr add fd77::1/64 dev nbd-br nodad
nsx ip link set nbd-tap0 up
nsx ip link set nbd-br up
# TFTP root: Debian's loaders plus placeholders for the arm64/ia32 names (dnsmasq's TFTP runs as nobody).
chmod 755 "$WORK"; mkdir -m 755 "$WORK/tftp"; ln -s /usr/lib/ipxe/* "$WORK/tftp/"
for f in ipxe-arm64.efi ipxe-ia32.efi; do printf 'netboot lab placeholder for %s\n' "$f" > "$WORK/tftp/$f"; done

if want perfdhcp; then
  ip netns exec "$NS" tcpdump -i lo -U -w "$WORK/perfdhcp.pcap" 'udp port 67 or udp port 68' 2>/dev/null &
  PIDS+=($!)
  sleep 1
  echo "capture: perfdhcp with PXE options (before dnsmasq: both want port 67)"
  # arch 7, vendor class PXEClient:Arch:00007:UNDI:003016, client GUID (type 0 + 16 bytes)
  nsx timeout 5 perfdhcp -4 -l 10.77.0.1 -r 1 -n 1 -R 1 \
    -o 60,505845436c69656e743a417263683a30303030373a554e44493a303033303136 \
    -o 93,0007 -o 94,010310 -o 97,00112233445566778899aabbccddeeff00 \
    10.77.0.1 >/dev/null 2>&1 || true
fi
# dnsmasq as the reference full DHCP + TFTP server; the IPv6 RA keeps iPXE from stalling (DESIGN.md).
ip netns exec "$NS" dnsmasq -k --conf-file=/dev/null --port=0 --interface=nbd-br --bind-interfaces \
  --dhcp-range=10.77.0.100,10.77.0.200,1h --dhcp-range=fd77::,ra-only --enable-ra \
  --dhcp-leasefile="$WORK/leases" --pid-file="$WORK/dnsmasq.pid" \
  --enable-tftp --tftp-root="$WORK/tftp" \
  --dhcp-match=set:efi64,option:client-arch,7 --dhcp-match=set:arm64,option:client-arch,11 \
  --dhcp-match=set:ia32,option:client-arch,6 --dhcp-match=set:http,option:client-arch,16 \
  --dhcp-option-force=tag:http,60,HTTPClient --dhcp-boot=tag:http,http://10.77.0.1/ipxe.efi \
  --dhcp-boot=tag:!efi64,tag:!arm64,tag:!ia32,tag:!http,undionly.kpxe --dhcp-boot=tag:efi64,ipxe.efi \
  --dhcp-boot=tag:arm64,ipxe-arm64.efi --dhcp-boot=tag:ia32,ipxe-ia32.efi \
  --log-dhcp --log-facility="$WORK/dnsmasq.log" &
PIDS+=($!)
ip netns exec "$NS" tcpdump -i nbd-br -U -w "$WORK/qemu.pcap" 'udp port 67 or udp port 68 or udp port 4011' 2>/dev/null &
PIDS+=($!)
sleep 1

if want bios; then
  echo "capture: SeaBIOS + iPXE ROM (40 s)"
  nsx timeout 40 qemu-system-x86_64 -accel tcg -m 256 -display none -serial none -monitor none -no-reboot \
    -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
    -device e1000,netdev=n0,mac=52:54:00:77:00:01 -uuid 8a2f6d1e-3b4c-4d5e-9f60-7a8b9c0d1e2f -boot n || true
fi
if want ovmf; then
  echo "capture: OVMF UEFI PXE (90 s)"
  cp /usr/share/OVMF/OVMF_VARS.fd "$WORK/vars.fd"
  nsx timeout 90 qemu-system-x86_64 -accel tcg -m 512 -display none -serial none -monitor none -no-reboot \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
    -drive if=pflash,format=raw,file="$WORK/vars.fd" \
    -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:02,romfile=,disable-legacy=on \
    -uuid 5c0a1b2c-3d4e-4f50-8162-738495a6b7c8 -boot n || true
fi

# EDK2 on arm64 / IA32: run until the firmware says the loader was downloaded (~10 s each here), at most 90 s;
# HTTP Boot until it printed the URI it took from the ACK.
edk2 () {
  local serial="$WORK/serial-$1.log"; shift
  ip netns exec "$NS" "$@" -display none -monitor none -serial file:"$serial" -no-reboot &
  local q=$!
  for _ in $(seq 1 180); do grep -aqE 'NBP file downloaded|URI: ' "$serial" 2>/dev/null && break; sleep 0.5; done
  kill "$q" 2>/dev/null || true; wait "$q" 2>/dev/null || true
}
if want aavmf; then
  echo "capture: AAVMF arm64 UEFI PXE"
  cp /usr/share/AAVMF/AAVMF_VARS.fd "$WORK/aavmf-vars.fd"
  edk2 aavmf qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a57 -m 512 \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd \
    -drive if=pflash,format=raw,file="$WORK/aavmf-vars.fd" \
    -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:03,romfile=,disable-legacy=on \
    -uuid 3e7b9c10-2a4d-4b6f-8c1e-5d2f7a9b0c31 -boot n
fi
if want ovmf32; then
  echo "capture: OVMF IA32 UEFI PXE"
  cp /usr/share/OVMF/OVMF32_VARS_4M.fd "$WORK/ovmf32-vars.fd"
  edk2 ovmf32 qemu-system-i386 -accel tcg -M q35,smm=on -global driver=cfi.pflash01,property=secure,value=on \
    -global ICH9-LPC.disable_s3=1 -m 512 \
    -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd \
    -drive if=pflash,format=raw,unit=1,file="$WORK/ovmf32-vars.fd" \
    -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:04,romfile=,disable-legacy=on \
    -uuid 9d4c2e61-7f0a-4b3c-a5d8-1e6f0b2c4d75 -boot n
fi
if want ovmfhttp; then
  echo "capture: OVMF UEFI HTTP Boot"
  cp /usr/share/OVMF/OVMF_VARS.fd "$WORK/ovmfhttp-vars.fd"
  edk2 ovmfhttp qemu-system-x86_64 -accel tcg -m 512 \
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd \
    -drive if=pflash,format=raw,file="$WORK/ovmfhttp-vars.fd" \
    -fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=no -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no \
    -netdev tap,id=n0,ifname=nbd-tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:05,romfile=,disable-legacy=on \
    -uuid 6b1f3a2c-9e4d-4c7a-b2e5-0f8d1c3a5e97 -boot n
fi

sleep 1
PCAPS=("$WORK/qemu.pcap"); want perfdhcp && PCAPS+=("$WORK/perfdhcp.pcap")
/usr/bin/python3 "$HERE/split-pcap.py" "$OUT" "${PCAPS[@]}"
