#!/usr/bin/env bash
# Builds the netboot Linux PE (vmlinuz + initrd.img) for one Debian architecture, from Debian packages only:
#   - the kernel: `apt-get download` of the package linux-image-ARCH depends on, unpacked with dpkg-deb -x
#     into a cache dir (nothing is installed on the host); only the modules build.d/ARCH.sh lists (and what
#     they depend on, resolved by modprobe --show-depends) go into the initramfs, then depmod runs on that tree;
#   - the userland: busybox-static, wimtools, ntfs-3g, fdisk, dosfstools, e2fsprogs, curl, jq, httpfs2
#     (+ libfuse2), kmod, util-linux, gdisk, parted. amd64 (build.d/amd64.sh): the host's installed packages
#     (scripts/install-deps.sh) copied with every shared library ldd names. arm64 (build.d/arm64.sh): the same
#     packages of Debian bookworm arm64, fetched by apt in a private state under the cache dir, unpacked into a
#     sysroot and copied with the libraries their DT_NEEDED entries name;
#   - /init, /netboot/runner.sh, the udhcpc script and every other boot/pe/*.sh (capture.sh, ...).
# Cached: a hash of the inputs (arch, package versions, the scripts, the module list) is kept next to the
# output; nothing is rebuilt while it matches (--force rebuilds anyway).
#
# usage: build.sh OUT_DIR [--arch amd64|arm64] [--force] [--cache DIR]
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
OUT=""; FORCE=0; CACHE=""; ARCH=amd64
while [ $# -gt 0 ]; do
  case "$1" in
    --force) FORCE=1 ;;
    --cache) CACHE="$2"; shift ;;
    --arch) ARCH="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) OUT="$1" ;;
  esac
  shift
done
case "$ARCH" in amd64|arm64) ;; *) echo "pe: error: --arch must be amd64 or arm64 (got '$ARCH')" >&2; exit 2 ;; esac
[ -n "$OUT" ] || OUT="$HERE/build"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
[ -n "$CACHE" ] || CACHE="${NETBOOT_PE_CACHE:-/var/cache/netboot-pe}"
mkdir -p "$CACHE"
# One build at a time per output directory (parallel tests may all ask for the PE).
exec 9>"$OUT/.lock"
flock 9

phase () { echo "pe: $*"; }
die () { echo "pe: error: $*" >&2; exit 1; }

# Tools copied into the PE, with their libraries (build.d/ARCH.sh finds them: host PATH or the arm64 sysroot).
BINARIES=(
  wimlib-imagex mkntfs ntfs-3g ntfsfix ntfslabel ntfsinfo sfdisk wipefs blkid partprobe sgdisk
  mkfs.fat fsck.fat mkfs.ext4 e2fsck curl jq httpfs2 fusermount kmod grub-install
)
# The Debian packages they come from (amd64: their installed versions make up the cache key; arm64: the
# packages whose dependency closure is fetched).
PACKAGES=(busybox-static wimtools libwim15 ntfs-3g libntfs-3g89 fdisk dosfstools e2fsprogs curl libcurl4 jq
  httpfs2 libfuse2 kmod util-linux gdisk parted grub2-common grub-common)

# Defines MODULES, GRUB_PLATFORMS (the GRUB targets makeBootable installs, boot/pe/steps-boot.sh; their packages
# are added to PACKAGES), ACACHE (the arch's cache dir), APT_GET/APT_CACHE (the apt the kernel comes from) and
# arch_prepare, arch_versions, arch_fetch_userland, stage_busybox, stage_binary, stage_grub, stage_vmlinuz.
. "$HERE/build.d/$ARCH.sh"
arch_prepare

phase "resolving the kernel package (linux-image-$ARCH)"
KPKG="$("${APT_CACHE[@]}" depends "linux-image-$ARCH" 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')"
[ -n "$KPKG" ] || die "cannot resolve linux-image-$ARCH's kernel package (apt-get update?)"
KVER_PKG="$("${APT_CACHE[@]}" policy "$KPKG" | awk '/Candidate:/{print $2}')"
KREL="${KPKG#linux-image-}"
phase "kernel $KPKG $KVER_PKG"

inputs_hash () {
  {
    echo "arch $ARCH"
    echo "kernel $KPKG $KVER_PKG"
    arch_versions
    printf '%s\n' "${MODULES[@]}" "${BINARIES[@]}"
    (cd "$HERE" && for f in build.sh build.d/*.sh init udhcpc.script localboot.cfg *.sh; do [ -f "$f" ] && sha256sum "$f"; done)
  } | sha256sum | cut -d' ' -f1
}
HASH="$(inputs_hash)"
if [ $FORCE = 0 ] && [ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/localboot.efi" ] && [ "$(cat "$OUT/inputs.sha256" 2>/dev/null)" = "$HASH" ]; then
  phase "up to date ($OUT, inputs $HASH)"
  exit 0
fi

# --- kernel -------------------------------------------------------------------------------------------
KDEB_DIR="$ACACHE/debs"; KROOT="$ACACHE/kernel-$KREL-$KVER_PKG"
mkdir -p "$KDEB_DIR"
if [ ! -f "$KROOT/.complete" ]; then
  deb="$(ls "$KDEB_DIR"/"${KPKG}_${KVER_PKG//:/%3a}"_*.deb 2>/dev/null | head -1 || true)"
  if [ -z "$deb" ]; then
    phase "downloading $KPKG $KVER_PKG with apt-get download"
    (cd "$KDEB_DIR" && "${APT_GET[@]}" download -q "$KPKG=$KVER_PKG" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
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
arch_fetch_userland

# --- staging tree -------------------------------------------------------------------------------------
STAGE="$(mktemp -d "$CACHE/stage.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,lib,lib64,etc,proc,sys,dev,run,tmp,mnt,root,var/log,netboot}
# merged /usr/lib (arm64 libraries come from /usr/lib/<multiarch> as well as /lib/<multiarch>)
ln -s ../lib "$STAGE/usr/lib"

phase "busybox applets"
stage_busybox

phase "userland: ${BINARIES[*]}"
for b in "${BINARIES[@]}"; do
  rm -f "$STAGE/bin/$b"               # the real tool wins over a busybox applet of the same name
  stage_binary "$b" "bin/$b"
done
for a in wimapply wiminfo wimcapture wimextract wimverify; do ln -sf wimlib-imagex "$STAGE/bin/$a"; done
ln -sf mkfs.fat "$STAGE/bin/mkfs.vfat"
# grub-install reads its modules, kernel.img and boot.img from /usr/lib/grub/PLATFORM (and warns without a
# /usr/share/locale to copy translations from: an empty one, none wanted)
mkdir -p "$STAGE/usr/share/locale"
for p in "${GRUB_PLATFORMS[@]}"; do stage_grub "$p"; done
phase "GRUB platforms for makeBootable: ${GRUB_PLATFORMS[*]} ($(du -sh "$STAGE/usr/lib/grub" | cut -f1))"
for a in modprobe insmod lsmod rmmod depmod modinfo; do rm -f "$STAGE/bin/$a" "$STAGE/sbin/$a"; ln -s ../bin/kmod "$STAGE/sbin/$a"; done
ln -sf ntfs-3g "$STAGE/bin/mount.ntfs-3g"
# libfuse2 (httpfs2) and ntfs-3g look for fusermount in /bin and /usr/bin
ln -sf ../../bin/fusermount "$STAGE/usr/bin/fusermount"
# glibc's NSS is not needed (numeric hosts only); curl wants /etc/hosts and a resolv.conf
printf '127.0.0.1 localhost\n' > "$STAGE/etc/hosts"
: > "$STAGE/etc/resolv.conf"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$STAGE/etc/passwd"
printf 'root:x:0:\n' > "$STAGE/etc/group"
ln -s /proc/mounts "$STAGE/etc/mtab"

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
mkdir -p "$STAGE/lib/modules/$KREL"
cp "$KMOD_SRC"/modules.{order,builtin,builtin.modinfo} "$STAGE/lib/modules/$KREL/" 2>/dev/null || true
depmod -b "$STAGE" "$KREL"
phase "kernel modules: $count resolved, $(find "$STAGE/lib/modules" -name '*.ko*' | wc -l) files staged"
printf '%s\n' "${MODULES[@]}" > "$STAGE/etc/netboot-modules"

# --- scripts ------------------------------------------------------------------------------------------
# Only the PE's runtime scripts: the build's own helpers live in build.d/ and stay out of /netboot.
phase "scripts: init, udhcpc.script, $(cd "$HERE" && ls *.sh | grep -v '^build.sh$' | tr '\n' ' ')"
install -m 0755 "$HERE/init" "$STAGE/init"
install -m 0755 "$HERE/udhcpc.script" "$STAGE/netboot/udhcpc.script"
for f in "$HERE"/*.sh; do
  [ "$(basename "$f")" = build.sh ] && continue
  install -m 0755 "$f" "$STAGE/netboot/$(basename "$f")"
done
echo "$KPKG $KVER_PKG arch $ARCH inputs $HASH" > "$STAGE/etc/netboot-pe-release"

# --- archive ------------------------------------------------------------------------------------------
phase "packing the initramfs (cpio newc, zstd)"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | zstd -q -T0 -10 > "$OUT/initrd.img.tmp"
stage_vmlinuz "$KROOT/boot/vmlinuz-$KREL" "$OUT/vmlinuz.tmp"

# --- localboot.efi ------------------------------------------------------------------------------------
# A standalone GRUB for the UEFI machines told to boot locally: iPXE chains it, it chainloads the disk's OS
# loader (localboot.cfg says why iPXE's exit is not enough). Made from the same GRUB platform the PE carries.
EFI_PLATFORM=""
for p in "${GRUB_PLATFORMS[@]}"; do case "$p" in *-efi) EFI_PLATFORM=$p ;; esac; done
phase "localboot.efi: standalone GRUB $EFI_PLATFORM with localboot.cfg"
# fs.lst names the file system modules GRUB loads when it probes a partition none of the loaded ones reads
# (the loader search does, on every ext4 or NTFS partition): only FAT is installed, where OS loaders live (the ESP), so the
# list says just that. With the platform's full list, each local boot printed ~35 "error: file
# `/boot/grub/x86_64-efi/xfs.mod' not found" lines. A copy of the platform, since the memdisk's first fs.lst wins.
LB_SRC="$STAGE/localboot-grub"
cp -a "$STAGE/usr/lib/grub/$EFI_PLATFORM" "$LB_SRC"
echo fat > "$LB_SRC/fs.lst"
grub-mkstandalone -O "$EFI_PLATFORM" -d "$LB_SRC" -o "$OUT/localboot.efi.tmp" \
  --install-modules="normal test echo sleep regexp chain part_gpt part_msdos fat" \
  --modules="part_gpt part_msdos fat regexp" --fonts= --locales= --themes= \
  "boot/grub/grub.cfg=$HERE/localboot.cfg" || die "grub-mkstandalone ($EFI_PLATFORM) failed"
rm -rf "$LB_SRC"

sync -f "$OUT/initrd.img.tmp" 2>/dev/null || sync
mv "$OUT/localboot.efi.tmp" "$OUT/localboot.efi"
mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
mv "$OUT/initrd.img.tmp" "$OUT/initrd.img"
echo "$HASH" > "$OUT/inputs.sha256.tmp" && mv "$OUT/inputs.sha256.tmp" "$OUT/inputs.sha256"
phase "done: $OUT/vmlinuz ($(stat -c %s "$OUT/vmlinuz") bytes), $OUT/initrd.img ($(stat -c %s "$OUT/initrd.img") bytes), $OUT/localboot.efi ($(stat -c %s "$OUT/localboot.efi") bytes)"
