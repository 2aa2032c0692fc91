#!/usr/bin/env bash
# Builds the netboot Linux PE (vmlinuz + initrd.img) from Debian packages only:
#   - the kernel: `apt-get download` of the package linux-image-amd64 depends on, unpacked with dpkg-deb -x
#     into a cache dir (nothing is installed on the host); only the modules listed below (and what they
#     depend on, resolved by modprobe --show-depends) go into the initramfs, then depmod runs on that tree;
#   - the userland: binaries of the host's installed Debian packages (scripts/install-deps.sh) copied with
#     every shared library ldd names: busybox-static, wimtools, ntfs-3g, fdisk, dosfstools, e2fsprogs, curl,
#     jq, httpfs2 (+ libfuse2), kmod, util-linux;
#   - /init, /netboot/runner.sh, the udhcpc script and every other boot/pe/*.sh (capture.sh, ...).
# Cached: a hash of the inputs (package versions, the scripts, the module list) is kept next to the output;
# nothing is rebuilt while it matches (--force rebuilds anyway).
#
# usage: build.sh OUT_DIR [--force] [--cache DIR]
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT=""; FORCE=0; CACHE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --cache) CACHE="$2"; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) OUT="$1" ;;
  esac
  shift
done
[ -n "$OUT" ] || OUT="$HERE/build"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
[ -n "$CACHE" ] || CACHE="${NETBOOT_PE_CACHE:-/var/cache/netboot-pe}"
mkdir -p "$CACHE"
# One build at a time per output directory (parallel tests may all ask for the PE).
exec 9>"$OUT/.lock"
flock 9

phase () { echo "pe: $*"; }
die () { echo "pe: error: $*" >&2; exit 1; }

# Drivers real hardware and the lab need. Their dependencies are added automatically.
MODULES=(
  virtio_pci virtio_net virtio_blk virtio_scsi virtio_console
  e1000 e1000e igb igc ixgbe ixgbevf tg3 bnx2 bnxt_en r8169 atlantic vmxnet3 hv_netvsc
  ahci ata_piix ata_generic sd_mod sr_mod nvme mptspi vmw_pvscsi hv_storvsc
  usb_storage uas xhci_pci ehci_pci uhci_hcd ohci_pci
  fuse ext4 vfat nls_cp437 nls_iso8859_1 nls_utf8 efivarfs crc32c_generic
)
# Host binaries copied into the PE (found in PATH), with their libraries.
BINARIES=(
  wimlib-imagex mkntfs ntfs-3g ntfsfix ntfslabel ntfsinfo sfdisk wipefs blkid partprobe sgdisk
  mkfs.fat fsck.fat mkfs.ext4 e2fsck curl jq httpfs2 fusermount kmod
)
# Debian packages whose versions make up the cache key.
HOST_PACKAGES=(busybox-static wimtools libwim15 ntfs-3g libntfs-3g89 fdisk dosfstools e2fsprogs curl libcurl4 jq
  httpfs2 libfuse2 kmod util-linux gdisk parted)

command -v busybox >/dev/null || die "busybox-static is not installed (run scripts/install-deps.sh)"
for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null || die "$b not found (run scripts/install-deps.sh)"; done

phase "resolving the kernel package (linux-image-amd64)"
KPKG="$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
[ -n "$KPKG" ] || die "cannot resolve linux-image-amd64's kernel package (apt-get update?)"
KVER_PKG="$(apt-cache policy "$KPKG" | awk '/Candidate:/{print $2}')"
KREL="${KPKG#linux-image-}"
phase "kernel $KPKG $KVER_PKG"

inputs_hash () {
  {
    echo "kernel $KPKG $KVER_PKG"
    for p in "${HOST_PACKAGES[@]}"; do dpkg-query -W -f='${Package} ${Version}\n' "$p" 2>/dev/null || echo "$p none"; done
    printf '%s\n' "${MODULES[@]}" "${BINARIES[@]}"
    (cd "$HERE" && for f in build.sh init udhcpc.script *.sh; do [ -f "$f" ] && sha256sum "$f"; done)
  } | sha256sum | cut -d' ' -f1
}
HASH="$(inputs_hash)"
if [ $FORCE = 0 ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ "$(cat "$OUT/inputs.sha256" 2>/dev/null)" = "$HASH" ]; then
  phase "up to date ($OUT, inputs $HASH)"
  exit 0
fi

# --- kernel -------------------------------------------------------------------------------------------
KDEB_DIR="$CACHE/debs"; KROOT="$CACHE/kernel-$KREL-$KVER_PKG"
mkdir -p "$KDEB_DIR"
if [ ! -f "$KROOT/.complete" ]; then
  deb="$(ls "$KDEB_DIR"/"${KPKG}_${KVER_PKG//:/%3a}"_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then
    phase "downloading $KPKG $KVER_PKG with apt-get download"
    (cd "$KDEB_DIR" && apt-get download -q "$KPKG=$KVER_PKG" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    deb="$(ls "$KDEB_DIR"/"${KPKG}"_*.deb 2>/dev/null | head -1 || true)"
    [ -n "$deb" ] || die "apt-get download $KPKG failed"
  fi
  phase "unpacking $(basename "$deb") into $KROOT"
  rm -rf "$KROOT.tmp"; mkdir -p "$KROOT.tmp"
  dpkg-deb -x "$deb" "$KROOT.tmp"
  depmod -b "$KROOT.tmp" "$KREL"
  touch "$KROOT.tmp/.complete"
  rm -rf "$KROOT"; mv "$KROOT.tmp" "$KROOT"
else
  phase "kernel cached in $KROOT"
fi

# --- staging tree -------------------------------------------------------------------------------------
STAGE="$(mktemp -d "$CACHE/stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,run,tmp,mnt,root,var/log,netboot}
ln -s lib "$STAGE/usr/lib" 2>/dev/null || true

phase "busybox applets"
cp "$(command -v busybox)" "$STAGE/bin/busybox"
for a in $("$STAGE/bin/busybox" --list); do
  [ -e "$STAGE/bin/$a" ] || ln -s busybox "$STAGE/bin/$a"
done

copy_with_libs () {  # copy one binary and the libraries ldd names (same paths inside the PE)
  local src="$1" dst="$2"
  cp -L "$src" "$STAGE/$dst"
  ldd "$src" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    [ -e "$STAGE$lib" ] && continue
    mkdir -p "$STAGE$(dirname "$lib")"
    cp -L "$lib" "$STAGE$lib"
  done
}
phase "userland: ${BINARIES[*]}"
for b in "${BINARIES[@]}"; do
  p="$(command -v "$b")"
  rm -f "$STAGE/bin/$b"               # the real tool wins over a busybox applet of the same name
  copy_with_libs "$p" "bin/$b"
done
for a in wimapply wiminfo wimcapture wimextract wimverify; do ln -sf wimlib-imagex "$STAGE/bin/$a"; done
ln -sf mkfs.fat "$STAGE/bin/mkfs.vfat"
for a in modprobe insmod lsmod rmmod depmod modinfo; do rm -f "$STAGE/bin/$a" "$STAGE/sbin/$a"; ln -s ../bin/kmod "$STAGE/sbin/$a"; done
ln -sf ntfs-3g "$STAGE/bin/mount.ntfs-3g"
# libfuse2 (httpfs2) and ntfs-3g look for fusermount in /bin and /usr/bin
ln -sf ../../bin/fusermount "$STAGE/usr/bin/fusermount"
# glibc's NSS is not needed (numeric hosts only); curl wants /etc/hosts and a resolv.conf
printf '127.0.0.1 localhost\n' > "$STAGE/etc/hosts"
: > "$STAGE/etc/resolv.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$STAGE/etc/passwd"
printf 'root:x:0:\n' > "$STAGE/etc/group"
printf '/etc/mtab\n' >/dev/null; ln -s /proc/mounts "$STAGE/etc/mtab"

# --- modules ------------------------------------------------------------------------------------------
phase "kernel modules: ${#MODULES[@]} requested"
KMOD_SRC="$KROOT/lib/modules/$KREL"
count=0
for m in "${MODULES[@]}"; do
  deps="$(modprobe -d "$KROOT" -S "$KREL" --show-depends "$m" 2>/dev/null || true)"
  [ -n "$deps" ] || { echo "pe:   (no module $m in $KREL: built in or absent)"; continue; }
  echo "$deps" | awk '$1=="insmod"{print $2}' | while read -r ko; do
    rel="${ko#"$KROOT"}"
    [ -e "$STAGE$rel" ] && continue
    mkdir -p "$STAGE$(dirname "$rel")"; cp "$ko" "$STAGE$rel"
  done
  count=$((count + 1))
done
cp "$KMOD_SRC"/modules.{order,builtin,builtin.modinfo} "$STAGE/lib/modules/$KREL/" 2>/dev/null || true
depmod -b "$STAGE" "$KREL"
phase "kernel modules: $count resolved, $(find "$STAGE/lib/modules" -name '*.ko*' | wc -l) files staged"
printf '%s\n' "${MODULES[@]}" > "$STAGE/etc/netboot-modules"

# --- scripts ------------------------------------------------------------------------------------------
phase "scripts: init, udhcpc.script, $(cd "$HERE" && ls *.sh | grep -v '^build.sh$' | tr '\n' ' ')"
install -m 0755 "$HERE/init" "$STAGE/init"
install -m 0755 "$HERE/udhcpc.script" "$STAGE/netboot/udhcpc.script"
for f in "$HERE"/*.sh; do
  [ "$(basename "$f")" = build.sh ] && continue
  install -m 0755 "$f" "$STAGE/netboot/$(basename "$f")"
done
echo "$KPKG $KVER_PKG inputs $HASH" > "$STAGE/etc/netboot-pe-release"

# --- archive ------------------------------------------------------------------------------------------
phase "packing the initramfs (cpio newc, zstd)"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | zstd -q -T0 -10 > "$OUT/initrd.img.tmp"
cp "$KROOT/boot/vmlinuz-$KREL" "$OUT/vmlinuz.tmp"
sync -f "$OUT/initrd.img.tmp" 2>/dev/null || sync
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
echo "$HASH" > "$OUT/inputs.sha256.tmp" && mv "$OUT/inputs.sha256.tmp" "$OUT/inputs.sha256"
phase "done: $OUT/vmlinuz ($(stat -c %s "$OUT/vmlinuz") bytes), $OUT/initrd.img ($(stat -c %s "$OUT/initrd.img") bytes)"
