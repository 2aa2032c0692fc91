#!/usr/bin/env bash
# Puts iPXE's arm64 UEFI build at /usr/lib/ipxe/ipxe-arm64.efi, the name the appliance's defaults give for
# option 93 = 11 and 19 (bootLoaders.efiArm64 / httpArm64).
#
# Debian 12's ipxe package builds x86 targets only. Debian 13 (trixie) ships the same package with
# /usr/lib/ipxe/ipxe-arm64.efi (arch: all), so on bookworm this script takes that one file from trixie's .deb:
# downloaded by apt itself (its InRelease signature checked against debian-archive-keyring) in a private apt
# state under the cache dir, so the host's sources, lists and dpkg database are not touched, and nothing is
# installed. On a system whose ipxe package already ships the file (trixie and later) it does nothing; if
# that package arrives later, dpkg replaces the copied file with its own.
#
# usage: fetch-arm64-ipxe.sh [--cache DIR] [--dest FILE]
set -euo pipefail
CACHE=/var/cache/netboot-loaders; DEST=/usr/lib/ipxe/ipxe-arm64.efi
while [ $# -gt 0 ]; do
  case "$1" in
    --cache) CACHE="$2"; shift ;;
    --dest) DEST="$2"; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "fetch-arm64-ipxe: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
say () { echo "fetch-arm64-ipxe: $*"; }
if [ -s "$DEST" ]; then say "$DEST is there"; exit 0; fi

mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial" "$CACHE/debs"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" > "$CACHE/sources.list"
APT=(apt-get -q -o Dir::Etc::SourceList="$CACHE/sources.list" -o Dir::Etc::SourceParts="$CACHE/none"
  -o Dir::State::Lists="$CACHE/lists" -o Dir::Cache="$CACHE" -o Dir::State::Status=/dev/null
  -o APT::Architecture=amd64 -o APT::Architectures=amd64 -o Acquire::Languages=none -o APT::Sandbox::User=root)
say "reading trixie's package index (private apt state in $CACHE)"
"${APT[@]}" update >/dev/null
rm -f "$CACHE"/debs/ipxe_*.deb
(cd "$CACHE/debs" && "${APT[@]}" download ipxe >/dev/null)
deb=$(ls "$CACHE"/debs/ipxe_*_all.deb)
tmp=$(mktemp -d "$CACHE/x.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
src="$tmp/usr/lib/ipxe/ipxe-arm64.efi"
[ -s "$src" ] || { echo "fetch-arm64-ipxe: $(basename "$deb") has no usr/lib/ipxe/ipxe-arm64.efi" >&2; exit 1; }
# An EFI application for arm64: PE32+ with machine type 0xaa64 (PE/COFF: "PE\0\0" then the machine, LE).
off=$(od -An -tu4 -j60 -N4 "$src" | tr -d ' ')
machine=$(od -An -tx1 -j$((off + 4)) -N2 "$src" | tr -d ' ')
[ "$machine" = 64aa ] || { echo "fetch-arm64-ipxe: $src is not an arm64 EFI image (machine $machine)" >&2; exit 1; }
mkdir -p "$(dirname "$DEST")"
install -m 0644 "$src" "$DEST.tmp"
mv "$DEST.tmp" "$DEST"
say "installed $DEST from $(basename "$deb")"
