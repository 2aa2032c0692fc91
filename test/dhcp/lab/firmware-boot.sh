#!/usr/bin/env bash
# Real firmware against the appliance's proxyDHCP, beside a separate "site" DHCP server:
#   ns nbd-fa<id>: bridge + QEMU tap + the appliance (src/dhcp via run-service.ts, proxy mode, 10.98.0.1)
#                  + dnsmasq as TFTP-only server + python http.server on :8080
#   TFTP root: a temp dir with links to /usr/lib/ipxe/* (ipxe-arm64.efi included: scripts/fetch-trixie-loaders.sh puts
#   Debian trixie's arm64 build there) plus a placeholder ipxe-ia32.efi (no Debian release builds iPXE for IA32;
#   the appliance's defaults name it for option 93 = 6). For IA32 the evidence is that the firmware downloaded the
#   file our OFFER named, not that it runs.
#   ns nbd-fs<id>: dnsmasq as the site DHCP server (addresses only, no PXE options), 10.98.0.2, via veth
# Usage: firmware-boot.sh bios|ovmf|ovmf-http|aavmf|aavmf-http|ovmf32 [seconds] [proxy|full].
#   bios: SeaBIOS + iPXE ROM (arch 0); ovmf: OVMF x64 (arch 7); ovmf-http: OVMF x64 with its PXE turned off through
#   fw_cfg, so it UEFI-HTTP-boots (arch 16, HTTPClient) the URL our OFFER names; aavmf: AAVMF arm64 on -M virt (arch 11);
#   aavmf-http: the same with AAVMF's PXE off (arch 19, HTTPClient); ovmf32: OVMF IA32 on q35 with SMM (arch 6), which
#   stops once the TFTP download happened (placeholder loader). In full mode the site DHCP server is not started: the
# appliance gives the address itself (pool 10.98.0.160-.170). Prints evidence lines (the test greps them):
#   HTTP-GET <path>        iPXE fetched it from the URL our proxy OFFER/ACK named
#   TFTP-SENT <file>       firmware downloaded the loader our proxy OFFER named (dnsmasq's log)
#   PROXY-REPLY <summary>  every reply the appliance sent (tcpdump)
#   FIRMWARE ...           EDK2's console lines about the boot file (aavmf/ovmf32/ovmf-http: serial console): "NBP file
#                          downloaded successfully", "Start HTTP Boot over IPv4", "URI: http://…", and the banner of an
#                          iPXE chained on it ("iPXE 1.21.1+…")
#   CLIENT-ARCH <type> <n> option 93 of each DISCOVER/REQUEST the firmware sent (tcpdump -v), e.g. "Discover 11"
set -euo pipefail
KIND=${1:-bios}; SECS=${2:-60}; MODE=${3:-proxy}
HERE=$(cd "$(dirname "$0")" && pwd); REPO=$(cd "$HERE/../../.." && pwd)
ID=$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')
A=nbd-fa$ID; S=nbd-fs$ID; BR=nbd${ID}b; TAP=nbd${ID}t; VA=nbd${ID}a; VS=nbd${ID}s
WORK=$(mktemp -d /tmp/nbd-fw.XXXXXX)
PIDS=()
cleanup () {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "$A" 2>/dev/null || true; ip netns del "$S" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$A"; ip netns add "$S"
ip -n "$A" link set lo up; ip -n "$S" link set lo up
ip -n "$A" link add "$BR" type bridge
ip -n "$A" tuntap add "$TAP" mode tap
ip link add "$VA" type veth peer name "$VS"
ip link set "$VA" netns "$A"; ip link set "$VS" netns "$S"
ip -n "$A" link set "$TAP" master "$BR"; ip -n "$A" link set "$VA" master "$BR"
ip -n "$A" addr add 10.98.0.1/24 dev "$BR"; ip -n "$A" -6 addr add fd98::1/64 dev "$BR" nodad
ip -n "$S" addr add 10.98.0.2/24 dev "$VS"
for l in "$TAP" "$VA" "$BR"; do ip -n "$A" link set "$l" up; done
ip -n "$S" link set "$VS" up
ip -n "$A" route add default dev "$BR"
mkdir -p "$WORK/tftp"; chmod 755 "$WORK" "$WORK/tftp"; ln -s /usr/lib/ipxe/* "$WORK/tftp/"
[ -s /usr/lib/ipxe/ipxe-arm64.efi ] || { echo "no /usr/lib/ipxe/ipxe-arm64.efi: run scripts/fetch-trixie-loaders.sh"; exit 1; }
printf 'netboot lab placeholder for ipxe-ia32.efi\n' > "$WORK/tftp/ipxe-ia32.efi"

# Site DHCP (addresses only) + IPv6 RA so iPXE does not stall (DESIGN.md).
# Started as a plain command (not `[ … ] && cmd &`, whose $! is a subshell that cleanup would kill while dnsmasq
# lived on): `ip netns exec` execs dnsmasq, so $! is dnsmasq's own PID.
if [ "$MODE" = proxy ]; then
  ip netns exec "$S" dnsmasq -k --conf-file=/dev/null --port=0 --interface="$VS" --bind-interfaces \
    --dhcp-range=10.98.0.100,10.98.0.150,1h --dhcp-leasefile="$WORK/site.leases" --pid-file="$WORK/site.pid" \
    --log-facility="$WORK/site.log" --log-dhcp &
  PIDS+=($!)
fi
ip netns exec "$A" dnsmasq -k --conf-file=/dev/null --port=0 --interface="$BR" --bind-interfaces \
  --enable-tftp --tftp-root="$WORK/tftp" --dhcp-range=fd98::,ra-only --enable-ra --pid-file="$WORK/tftp.pid" \
  --log-facility="$WORK/tftp.log" &
PIDS+=($!)
mkdir -p "$WORK/www/loaders"; printf '#!ipxe\necho netboot lab\nshell\n' > "$WORK/www/boot.ipxe"
# UEFI HTTP Boot fetches its loader over HTTP: our OFFER names http://10.98.0.1:8080/loaders/ipxe.efi (x64) or
# …/loaders/ipxe-arm64.efi (arm64).
ln -s /usr/lib/ipxe/ipxe.efi /usr/lib/ipxe/ipxe-arm64.efi "$WORK/www/loaders/"
# python's HTTPServer.server_bind calls getfqdn(), a DNS lookup that times out inside the namespace (~5 s):
# skip it. Request lines ("GET /boot.ipxe ...") go to stderr, i.e. http.log.
ip netns exec "$A" /usr/bin/python3 -c '
import functools, http.server as h, socketserver, sys
class S(h.ThreadingHTTPServer):
    def server_bind(self):
        socketserver.TCPServer.server_bind(self); self.server_name, self.server_port = "lab", 8080
s = S(("10.98.0.1", 8080), functools.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[1]))
print("Serving HTTP", flush=True); s.serve_forever()' "$WORK/www" > "$WORK/http.log" 2>&1 &
PIDS+=($!)
ip netns exec "$A" tcpdump -i "$BR" -n -U -w "$WORK/all.pcap" 2>/dev/null &
PIDS+=($!)
if [ "$MODE" = full ]; then
  SPEC='{"server":{"address":"10.98.0.1","bind":"0.0.0.0"},"dhcp":{"mode":"full","full":{"poolStart":"10.98.0.160","poolEnd":"10.98.0.170","subnetMask":"255.255.255.0","router":"10.98.0.1","dns":[],"leaseSeconds":600}},"logLevel":"info"}'
else
  SPEC='{"server":{"address":"10.98.0.1","bind":"0.0.0.0"},"dhcp":{"mode":"proxy"},"logLevel":"info"}'
fi
ip netns exec "$A" node --import tsx "$REPO/test/dhcp/lab/run-service.ts" "$SPEC" > "$WORK/svc.out" 2> "$WORK/svc.log" &
PIDS+=($!)
for _ in $(seq 1 60); do grep -q READY "$WORK/svc.out" 2>/dev/null && break; sleep 0.5; done
grep -q READY "$WORK/svc.out" || { echo "appliance did not start"; cat "$WORK/svc.log"; exit 1; }
# Wait until the HTTP server listens.
for _ in $(seq 1 60); do grep -q 'Serving HTTP' "$WORK/http.log" 2>/dev/null && break; sleep 0.5; done

NIC=(-netdev tap,id=n0,ifname="$TAP",script=no,downscript=no)
# ovmf-http/aavmf-http: EDK2's PXE off (OvmfPkg/RUNTIME_CONFIG.md), which leaves UEFI HTTP Boot (IPv4, then IPv6).
PXE_OFF=(-fw_cfg name=opt/org.tianocore/IPv4PXESupport,string=no -fw_cfg name=opt/org.tianocore/IPv6PXESupport,string=no)
case "$KIND" in
bios)
  QEMU=(qemu-system-x86_64 -accel tcg -m 256 -display none -monitor none -serial none -no-reboot
    "${NIC[@]}" -device e1000,netdev=n0,mac=52:54:00:98:00:01 -boot n) ;;
ovmf)
  cp /usr/share/OVMF/OVMF_VARS.fd "$WORK/vars.fd"
  QEMU=(qemu-system-x86_64 -accel tcg -m 512 -display none -monitor none -serial none -no-reboot
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd -drive if=pflash,format=raw,file="$WORK/vars.fd"
    "${NIC[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:98:00:02,romfile=,disable-legacy=on -boot n) ;;
ovmf-http)
  # EDK2's HttpBootDxe is tried after PXE, which PXE_OFF turns off.
  cp /usr/share/OVMF/OVMF_VARS.fd "$WORK/vars.fd"
  QEMU=(qemu-system-x86_64 -accel tcg -m 512 -display none -monitor none -serial file:"$WORK/serial.log" -no-reboot
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd -drive if=pflash,format=raw,file="$WORK/vars.fd"
    "${PXE_OFF[@]}"
    "${NIC[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:98:00:05,romfile=,disable-legacy=on -boot n) ;;
aavmf)
  # AAVMF's own VirtioNetDxe + PxeBcDxe (romfile= keeps QEMU's x86 iPXE ROM off the NIC).
  cp /usr/share/AAVMF/AAVMF_VARS.fd "$WORK/vars.fd"
  QEMU=(qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a57 -m 512 -display none -monitor none
    -serial file:"$WORK/serial.log" -no-reboot
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd -drive if=pflash,format=raw,file="$WORK/vars.fd"
    "${NIC[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:98:00:03,romfile=,disable-legacy=on -boot n) ;;
aavmf-http)
  cp /usr/share/AAVMF/AAVMF_VARS.fd "$WORK/vars.fd"
  QEMU=(qemu-system-aarch64 -accel tcg -M virt -cpu cortex-a57 -m 512 -display none -monitor none
    -serial file:"$WORK/serial.log" -no-reboot
    -drive if=pflash,format=raw,readonly=on,file=/usr/share/AAVMF/AAVMF_CODE.fd -drive if=pflash,format=raw,file="$WORK/vars.fd"
    "${PXE_OFF[@]}"
    "${NIC[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:98:00:06,romfile=,disable-legacy=on -boot n) ;;
ovmf32)
  # Debian's ovmf-ia32 ships only the SMM (secboot) build: q35 with SMM and a secure pflash. Its VARS has no keys
  # enrolled, so Secure Boot is off; it would not matter anyway, the download comes before any signature check.
  cp /usr/share/OVMF/OVMF32_VARS_4M.fd "$WORK/vars.fd"
  QEMU=(qemu-system-i386 -accel tcg -M q35,smm=on -global driver=cfi.pflash01,property=secure,value=on
    -global ICH9-LPC.disable_s3=1 -m 512 -display none -monitor none -serial file:"$WORK/serial.log" -no-reboot
    -drive if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF32_CODE_4M.secboot.fd
    -drive if=pflash,format=raw,unit=1,file="$WORK/vars.fd"
    "${NIC[@]}" -device virtio-net-pci,netdev=n0,mac=52:54:00:98:00:04,romfile=,disable-legacy=on -boot n) ;;
*) echo "unknown kind $KIND"; exit 2 ;;
esac
ip netns exec "$A" "${QEMU[@]}" &
QPID=$!
PIDS+=($QPID)
# Stop as soon as iPXE fetched its script (the end of the DHCP side's job), or for ovmf32 (placeholder loader,
# nothing to chain into) as soon as the loader was downloaded; or after SECS.
DONE='GET /boot.ipxe'; DONELOG="$WORK/http.log"
# EDK2 reads the size first (a TFTP tsize request it aborts, which dnsmasq also logs as "sent"), so wait for
# its own console line rather than dnsmasq's.
case "$KIND" in
  ovmf32) DONE='NBP file downloaded successfully'; DONELOG="$WORK/serial.log" ;;
esac
T0=$SECONDS
for _ in $(seq 1 $((SECS * 2))); do grep -aq "$DONE" "$DONELOG" 2>/dev/null && break; sleep 0.5; done
echo "QEMU-SECONDS $((SECONDS - T0))"
kill "$QPID" 2>/dev/null || true
sleep 1
grep -o 'GET /[^ ]*' "$WORK/http.log" | sed 's/^GET /HTTP-GET /' || true
[ -f "$WORK/serial.log" ] && { tr -d '\r' < "$WORK/serial.log" | grep -aoE 'NBP file.*|Start HTTP Boot over IPv[46]|URI: [^ ]+|iPXE [0-9][0-9A-Za-z.+~-]*' | sed 's/^ */FIRMWARE /' || true; }
grep -o "sent $WORK/tftp/[^ ]*" "$WORK/tftp.log" | sed "s#^sent $WORK/tftp/#TFTP-SENT #" || true
tcpdump -r "$WORK/all.pcap" -n 'udp port 67 or udp port 68 or udp port 4011' 2>/dev/null | awk '/^[0-9]/ {hdr=$0} /10\.98\.0\.1\.(67|4011) >/ {print "PROXY-REPLY " $0}' | sed 's/  */ /g' || true
tcpdump -r "$WORK/all.pcap" -n -v 'udp dst port 67 or udp dst port 4011' 2>/dev/null | awk '/DHCP-Message \(53\)/ {m=$NF} /ARCH \(93\)/ {print "CLIENT-ARCH " m " " $NF}' || true
grep -c "sent" "$WORK/site.log" 2>/dev/null | sed "s/^/SITE-LOG-LINES /" || true
tcpdump -r "$WORK/all.pcap" -n 'tcp dst port 8080 and tcp[tcpflags] & tcp-syn != 0' 2>/dev/null | awk '{print "HTTP-SYN-FROM " $3}' | sort -u || true
[ -n "${NBD_FW_KEEP:-}" ] && cp -r "$WORK" "$NBD_FW_KEEP"
