#!/usr/bin/env bash
# Builds the capture media: a hybrid ISO (El Torito BIOS + UEFI, and a USB-stick image) with Debian's GRUB
# (grub-mkrescue from grub-pc-bin + grub-efi-amd64-bin, xorriso, mtools) that boots the netboot Linux PE with
# netboot.mode=capture, so the PE's /init runs /netboot/capture-media.sh.
# Called by `netboot media build --capture` (src/images/media.ts), which validates every value first.
#
# usage: build-capture-iso.sh --kernel VMLINUZ --initrd INITRD --out ISO --url URL --token TOKEN
#                             [--image ID] [--volume DEV] [--compression C] [--serial]
#   --serial   make the serial port (ttyS0) the PE's console, for headless machines and the QEMU lab
#              (default: the screen, tty0, with the kernel's messages on ttyS0 too)
set -euo pipefail

KERNEL=""; INITRD=""; OUT=""; URL=""; TOKEN=""; IMAGE=""; VOLUME=""; COMP=""; SERIAL=0
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
[ -d /usr/lib/grub/x86_64-efi ] || die "grub-efi-amd64-bin is not installed (UEFI boot)"

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

# grub-mkrescue builds a hybrid image: BIOS El Torito (i386-pc), an EFI system partition image
# (x86_64-efi, made with mtools), and an MBR/GPT so it also boots when written to a USB stick.
grub-mkrescue -o "$OUT.tmp.$$" "$STAGE" -- -volid NETBOOT_CAPTURE >"$LOG" 2>&1 ||
  die "grub-mkrescue failed: $(grep -v UPDATE "$LOG" | grep -i -m1 -e error -e sorry -e fail || tail -n 1 "$LOG")"
sync "$OUT.tmp.$$" 2>/dev/null || sync
mv -f "$OUT.tmp.$$" "$OUT"
echo "media: wrote $OUT ($(stat -c %s "$OUT") bytes)"
