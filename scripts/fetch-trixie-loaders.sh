#!/usr/bin/env bash
# Boot loaders Debian 12 (bookworm) does not ship in a usable form, taken from Debian 13 (trixie)'s packages:
#
# - iPXE's arm64 UEFI build, at /usr/lib/ipxe/ipxe-arm64.efi: the name the appliance's defaults give for option
#   93 = 11 and 19 (bootLoaders.efiArm64 / httpArm64). Bookworm's ipxe package builds x86 targets only; trixie's
#   (arch: all) ships this file. If that package arrives later, dpkg replaces the copy with its own.
# - The Secure Boot chain for x86-64 UEFI (bootLoaders.secureBoot), in /usr/local/lib/netboot/secureboot:
#   shimx64.efi (shim-signed: signed by Microsoft's UEFI CA, carries Debian's CA), mmx64.efi (shim-helpers-amd64-signed:
#   MokManager) and grubx64.efi (grub-efi-amd64-signed's grubnetx64.efi.signed: GRUB's network image, signed by
#   Debian). Trixie's GRUB 2.12, not bookworm's 2.06: 2.06's image has no http module and reads its TFTP server
#   from the site DHCP server's ACK only, so beside a proxyDHCP it asks the wrong server (tried in QEMU, proxy mode);
#   2.12 takes the proxy offer and fetches over HTTP. Shim looks for grubx64.efi next to itself.
#   Also gcdx64.efi (the same package's gcdx64.efi.signed: GRUB's CD image, signed by Debian), which the capture
#   media's UEFI boot runs after shim (boot/media/build-capture-iso.sh --secure-boot), and disk/grubx64.efi (its
#   grubx64.efi.signed, the image a Debian system boots from its disk), which the lab's test system carries as its
#   own signed GRUB (src/lab/linux-image.ts; makeBootable with Secure Boot on installs an image's own chain).
#
# The .debs are downloaded by apt itself (InRelease signature checked against debian-archive-keyring) in a private
# apt state under the cache dir: the host's sources, lists and dpkg database are not touched, nothing is installed,
# and no package script runs (shim-signed's postinst would run grub-install on an EFI host). A file already in place
# is left alone. Each file is checked: a PE image of the right machine type, and for the Secure Boot files an
# Authenticode signature (a non-empty certificate table).
#
# usage: fetch-trixie-loaders.sh [--cache DIR] [--ipxe-arm64 FILE] [--secureboot-dir DIR]
set -euo pipefail
CACHE=/var/cache/netboot-loaders; ARM64=/usr/lib/ipxe/ipxe-arm64.efi; SBDIR=/usr/local/lib/netboot/secureboot
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) CACHE="$2"; shift ;;
    --ipxe-arm64) ARM64="$2"; shift ;;
    --secureboot-dir) SBDIR="$2"; shift ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "fetch-trixie-loaders: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
say () { echo "fetch-trixie-loaders: $*"; }
die () { echo "fetch-trixie-loaders: $*" >&2; exit 1; }

# wanted: "package path-in-deb destination machine signed"
WANTED=(
  "ipxe usr/lib/ipxe/ipxe-arm64.efi $ARM64 64aa no"
  "shim-signed usr/lib/shim/shimx64.efi.signed $SBDIR/shimx64.efi 6486 yes"
  "shim-helpers-amd64-signed usr/lib/shim/mmx64.efi.signed $SBDIR/mmx64.efi 6486 yes"
  "grub-efi-amd64-signed usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed $SBDIR/grubx64.efi 6486 yes"
  "grub-efi-amd64-signed usr/lib/grub/x86_64-efi-signed/gcdx64.efi.signed $SBDIR/gcdx64.efi 6486 yes"
  "grub-efi-amd64-signed usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed $SBDIR/disk/grubx64.efi 6486 yes"
)
todo=()
for w in "${WANTED[@]}"; do
  read -r _ _ dest _ _ <<< "$w"
  if [ -s "$dest" ]; then say "$dest is there"; else todo+=("$w"); fi
done
[ ${#todo[@]} -gt 0 ] || exit 0

mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$CACHE/sources.list"
APT=(apt-get -q -o Dir::Etc::SourceList="$CACHE/sources.list" -o Dir::Etc::SourceParts="$CACHE/none"
  -o Dir::State::Lists="$CACHE/lists" -o Dir::Cache="$CACHE" -o Dir::State::Status=/dev/null
  -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root)
say "reading trixie's package index (private apt state in $CACHE)"
"${APT[@]}" update >/dev/null
tmp=$(mktemp -d "$CACHE/x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# PE/COFF: the offset of "PE\0\0" at 0x3c, the machine (LE) right after it; PE32+ optional header at +24, whose
# data directory 4 (the certificate table) is at +24+144: address, then size.
machine_of () { local off; off=$(od -An -tu4 -j60 -N4 "$1" | tr -d ' '); od -An -tx1 -j$((off + 4)) -N2 "$1" | tr -d ' '; }
cert_size_of () { local off; off=$(od -An -tu4 -j60 -N4 "$1" | tr -d ' '); od -An -tu4 -j$((off + 24 + 144 + 4)) -N4 "$1" | tr -d ' '; }

fetched=" "
for w in "${todo[@]}"; do
  read -r pkg path dest machine signed <<< "$w"
  if [ "${fetched#* $pkg }" = "$fetched" ]; then   # each package once per run (two files come from GRUB's)
    rm -f "$CACHE"/debs/"${pkg}"_*.deb
    (cd "$CACHE/debs" && "${APT[@]}" download "$pkg" >/dev/null)
    fetched="$fetched$pkg "
  fi
  deb=$(ls "$CACHE"/debs/"${pkg}"_*.deb)
  rm -rf "$tmp/root"; mkdir "$tmp/root"
  dpkg-deb -x "$deb" "$tmp/root"
  src="$tmp/root/$path"
  [ -s "$src" ] || die "$(basename "$deb") has no $path"
  got=$(machine_of "$src")
  [ "$got" = "$machine" ] || die "$path in $(basename "$deb") is not the expected EFI image (machine $got, want $machine)"
  if [ "$signed" = yes ] && [ "$(cert_size_of "$src")" -eq 0 ]; then die "$path in $(basename "$deb") carries no signature"; fi
  mkdir -p "$(dirname "$dest")"
  install -m 0644 "$src" "$dest.tmp"
  mv "$dest.tmp" "$dest"
  say "installed $dest from $(basename "$deb")"
done
