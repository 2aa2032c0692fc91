#!/usr/bin/env bash
# Builds the capture media: a hybrid ISO (El Torito BIOS + UEFI, and a USB-stick image) that boots the netboot
# Linux PE with netboot.mode=capture, so the PE's /init runs /netboot/capture-media.sh.
# Called by `netboot media build --capture` (src/images/media.ts), which validates every value first.
#
# BIOS: Debian's GRUB i386-pc (grub-pc-bin). UEFI, with --secure-boot DIR: shim (signed by Microsoft's UEFI CA) →
# Debian's signed GRUB CD image (gcdx64.efi) → the PE's kernel, which Debian signed: the chain PCs with Secure Boot
# on accept, the same keys as the appliance's network Secure Boot chain (scripts/fetch-trixie-loaders.sh puts the
# files in DIR). Without it, UEFI boots Debian's unsigned GRUB x86_64-efi (grub-mkrescue), which a machine with
# Secure Boot on refuses. Both read the ISO's /boot/grub/grub.cfg.
#
# usage: build-capture-iso.sh --kernel VMLINUZ --initrd INITRD --out ISO --url URL --token TOKEN
#                             [--image ID] [--volume DEV] [--compression C] [--serial] [--secure-boot DIR]
#   --serial   make the serial port (ttyS0) the PE's console, for headless machines and the QEMU lab
#              (default: the screen, tty0, with the kernel's messages on ttyS0 too)
#   --secure-boot DIR   shimx64.efi, mmx64.efi and gcdx64.efi for the UEFI boot (see above)
set -euo pipefail

KERNEL=""; INITRD=""; OUT=""; URL=""; TOKEN=""; IMAGE=""; VOLUME=""; COMP=""; SERIAL=0; SBDIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL="$2"; shift ;;
    --initrd) INITRD="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    --url) URL="$2"; shift ;;
    --token) TOKEN="$2"; shift ;;
    --image) IMAGE="$2"; shift ;;
    --volume) VOLUME="$2"; shift ;;
    --compression) COMP="$2"; shift ;;
    --serial) SERIAL=1 ;;
    --secure-boot) SBDIR="$2"; shift ;;
    *) echo "media: error: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
die () { echo "media: error: $*" >&2; exit 1; }
[ -f "$KERNEL" ] || die "no kernel at '$KERNEL' (run: netboot pe build)"
[ -f "$INITRD" ] || die "no initrd at '$INITRD' (run: netboot pe build)"
[ -n "$OUT" ] && [ -n "$URL" ] && [ -n "$TOKEN" ] || die "--out, --url and --token are required"
for b in grub-mkrescue xorriso mformat; do command -v "$b" >/dev/null || die "$b is missing (run scripts/install-deps.sh)"; done
[ -d /usr/lib/grub/i386-pc ] || die "grub-pc-bin is not installed (BIOS boot)"
if [ -n "$SBDIR" ]; then
  for f in shimx64.efi mmx64.efi gcdx64.efi; do [ -s "$SBDIR/$f" ] || die "no $f in $SBDIR (run scripts/fetch-trixie-loaders.sh)"; done
  for b in grub-mkimage mkfs.vfat mcopy mmd; do command -v "$b" >/dev/null || die "$b is missing (run scripts/install-deps.sh)"; done
else
  [ -d /usr/lib/grub/x86_64-efi ] || die "grub-efi-amd64-bin is not installed (UEFI boot)"
fi

WORK="$(mktemp -d)"
STAGE="$WORK/iso"; LOG="$WORK/mkrescue.log"   # the log must not be inside the tree being imaged
trap 'rm -rf "$WORK" "$OUT.tmp.$$"' EXIT
mkdir -p "$STAGE/boot/grub" "$STAGE/netboot"
cp "$KERNEL" "$STAGE/netboot/vmlinuz"
cp "$INITRD" "$STAGE/netboot/initrd.img"

# Kernel command line. Values were checked by media.ts (no spaces or quotes); single quotes keep GRUB from
# interpreting anything in them. The last console= becomes /dev/console, where the PE's /init writes.
ARGS="'netboot.mode=capture' 'netboot.url=$URL' 'netboot.capture_token=$TOKEN'"
[ -z "$IMAGE" ] || ARGS="$ARGS 'netboot.image=$IMAGE'"
[ -z "$VOLUME" ] || ARGS="$ARGS 'netboot.volume=$VOLUME'"
[ -z "$COMP" ] || ARGS="$ARGS 'netboot.compression=$COMP'"
if [ "$SERIAL" = 1 ]; then ARGS="$ARGS console=tty0 console=ttyS0,115200"
else ARGS="$ARGS console=ttyS0,115200 console=tty0"; fi

cat >"$STAGE/boot/grub/grub.cfg" <<CFG
# Netboot Appliance capture media, made by \`netboot media build --capture\` on $(date -u +%Y-%m-%dT%H:%M:%SZ)
set timeout=5
set default=0
serial --unit=0 --speed=115200
terminal_input console serial
terminal_output console serial
menuentry 'Capture this computer to the netboot appliance (${IMAGE:-a new image})' {
  echo 'Loading the netboot PE ...'
  linux /netboot/vmlinuz $ARGS
  initrd /netboot/initrd.img
}
menuentry 'Power off' {
  halt
}
CFG

if [ -z "$SBDIR" ]; then
  # grub-mkrescue builds a hybrid image: BIOS El Torito (i386-pc), an EFI system partition image
  # (x86_64-efi, made with mtools), and an MBR/GPT so it also boots when written to a USB stick.
  grub-mkrescue -o "$OUT.tmp.$$" "$STAGE" -- -volid NETBOOT_CAPTURE >"$LOG" 2>&1 ||
    die "grub-mkrescue failed: $(grep -v UPDATE "$LOG" | grep -i -m1 -e error -e sorry -e fail || tail -n 1 "$LOG")"
else
  # The same layout as grub-mkrescue's, with the signed chain in the EFI system partition image:
  # BIOS: GRUB's El Torito core image and its modules under /boot/grub/i386-pc, as grub-mkrescue puts them.
  mkdir -p "$STAGE/boot/grub/i386-pc"
  cp /usr/lib/grub/i386-pc/*.mod /usr/lib/grub/i386-pc/*.lst "$STAGE/boot/grub/i386-pc/"
  grub-mkimage -O i386-pc-eltorito -d /usr/lib/grub/i386-pc -p /boot/grub -o "$STAGE/boot/grub/i386-pc/eltorito.img" \
    biosdisk iso9660 >"$LOG" 2>&1 || die "grub-mkimage (i386-pc-eltorito) failed: $(tail -n 1 "$LOG")"
  # UEFI: the removable-media path \EFI\BOOT\BOOTX64.EFI is shim, which loads grubx64.efi (Debian's signed CD
  # GRUB) and, for MOK enrolment, mmx64.efi from its own directory. That GRUB's built-in prefix is /boot/grub on the
  # device it was loaded from (this FAT image), where there is none: its embedded config then finds the disc by
  # /.disk/info, as on Debian's own installer images, and reads the disc's /boot/grub/grub.cfg. No fbx64.efi: shim's
  # fallback would write NVRAM boot entries.
  mkdir -p "$STAGE/.disk"
  echo "Netboot Appliance capture media" > "$STAGE/.disk/info"
  EFI_IMG="$STAGE/efi.img"
  # the three files and 2 MiB for FAT's own structures, at least 8 MiB
  esp_kib=$(( ( $(stat -c %s "$SBDIR/shimx64.efi") + $(stat -c %s "$SBDIR/gcdx64.efi") + $(stat -c %s "$SBDIR/mmx64.efi") ) / 1024 + 2048 ))
  [ "$esp_kib" -ge 8192 ] || esp_kib=8192
  truncate -s "${esp_kib}K" "$EFI_IMG"
  mkfs.vfat -n NBCAPTURE "$EFI_IMG" >"$LOG" 2>&1 || die "mkfs.vfat (EFI image) failed: $(tail -n 1 "$LOG")"
  mmd -i "$EFI_IMG" ::/EFI ::/EFI/BOOT
  mcopy -i "$EFI_IMG" "$SBDIR/shimx64.efi" ::/EFI/BOOT/BOOTX64.EFI
  mcopy -i "$EFI_IMG" "$SBDIR/gcdx64.efi" ::/EFI/BOOT/grubx64.efi
  mcopy -i "$EFI_IMG" "$SBDIR/mmx64.efi" ::/EFI/BOOT/mmx64.efi
  # grub-mkrescue's xorriso options (GRUB 2.06), without its Mac HFS+ part: BIOS El Torito with GRUB's boot info
  # and hybrid MBR, the EFI image as the second El Torito entry and as a partition (USB sticks), a protective MBR.
  xorriso -as mkisofs -graft-points -b boot/grub/i386-pc/eltorito.img -no-emul-boot -boot-load-size 4 \
    -boot-info-table --grub2-boot-info --grub2-mbr /usr/lib/grub/i386-pc/boot_hybrid.img \
    --efi-boot efi.img -efi-boot-part --efi-boot-image --protective-msdos-label \
    -volid NETBOOT_CAPTURE -o "$OUT.tmp.$$" -r "$STAGE" >"$LOG" 2>&1 ||
    die "xorriso failed: $(grep -v UPDATE "$LOG" | grep -i -m1 -e error -e sorry -e fail || tail -n 1 "$LOG")"
fi
sync "$OUT.tmp.$$" 2>/dev/null || sync
mv -f "$OUT.tmp.$$" "$OUT"
echo "media: wrote $OUT ($(stat -c %s "$OUT") bytes)"
