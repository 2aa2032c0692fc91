#!/usr/bin/env bash
# Installs every Debian package the appliance and its test suite need, then the npm packages.
# Safe to run again: apt-get skips what is installed, npm ci is reproducible.
# Services that Debian packages would start (dnsmasq, tftpd, nginx) are never started: a policy-rc.d
# denies it during the install, and we use the -base / extracted binaries ourselves.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # PXE loaders and the lab
  ipxe qemu-system-x86 ovmf iproute2 tcpdump
  # arm64 and IA32 UEFI firmware for test/dhcp/firmware.test.ts
  qemu-system-arm qemu-efi-aarch64 ovmf-ia32
  # real peers for the tests
  atftp tftp-hpa busybox-static curl dnsmasq-base kea-admin python3-scapy zzuf
  # images and the PE
  wimtools ntfs-3g fdisk dosfstools cpio zstd xz-utils kmod jq httpfs2 fuse3 gdisk parted
  # the PE's makeBootable step: grub-install and GRUB's BIOS and x86-64 UEFI platforms
  grub2-common grub-pc-bin grub-efi-amd64-bin
  # the arm64 PE: readelf follows DT_NEEDED of foreign binaries; file checks what was built
  binutils file
  # capture media
  xorriso grub-pc-bin grub-efi-amd64-bin mtools
  # the Linux test image's ssh-keygen (makeBootable makes new SSH host keys with the image's own)
  openssh-client
  # benchmarks: reference servers; bench/e2e's debian-* cases debootstrap a real Debian
  nginx-light debootstrap
  # bench/dhcp: /usr/bin/time measures the load generator's own CPU
  time
  # systemd unit verification
  systemd
  # native/udp-batch (recvmmsg for the DHCP ports; scripts/build-native.sh): node-gyp needs make, g++ and python3
  make g++ python3
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  policy=/usr/sbin/policy-rc.d
  had_policy=0; [ -e "$policy" ] && had_policy=1
  [ $had_policy = 1 ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ $had_policy = 1 ] || rm -f "$policy"
fi

# iPXE for arm64 UEFI and the Secure Boot chain (shim + GRUB), from Debian trixie: see the script.
bash scripts/fetch-trixie-loaders.sh

# npm packages (node-tap, typescript, fastify, ...)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
