# Sourced by build.sh for --arch amd64 (the default): the kernel package comes through the host's own apt
# sources, the userland from the host's installed packages (scripts/install-deps.sh), each binary copied with
# the libraries ldd names (same paths inside the PE).

ACACHE="$CACHE"
APT_GET=(apt-get)
APT_CACHE=(apt-cache)

# Drivers real hardware and the lab need. Their dependencies are added automatically. nls_ascii: Debian's FAT
# default iocharset (CONFIG_FAT_DEFAULT_IOCHARSET="ascii"); without it mounting the ESP fails with EINVAL.
MODULES=(
  virtio_pci virtio_net virtio_blk virtio_scsi virtio_console
  e1000 e1000e igb igc ixgbe ixgbevf tg3 bnx2 bnxt_en r8169 atlantic vmxnet3 hv_netvsc
  ahci ata_piix ata_generic sd_mod sr_mod nvme mptspi vmw_pvscsi hv_storvsc
  usb_storage uas xhci_pci ehci_pci uhci_hcd ohci_pci
  fuse ext4 vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8 efivarfs crc32c_generic
)

# makeBootable: BIOS machines (MBR) and x86-64 UEFI machines (ESP, removable-media path).
GRUB_PLATFORMS=(i386-pc x86_64-efi)
PACKAGES+=(grub-pc-bin grub-efi-amd64-bin)

arch_prepare () {
  command -v busybox >/dev/null || die "busybox-static is not installed (run scripts/install-deps.sh)"
  for b in "${BINARIES[@]}"; do command -v "$b" >/dev/null || die "$b not found (run scripts/install-deps.sh)"; done
}

arch_versions () {  # the installed versions of the userland packages (part of the inputs hash)
  for p in "${PACKAGES[@]}"; do dpkg-query -W -f='${Package} ${Version}\n' "$p" 2>/dev/null || echo "$p none"; done
}

arch_fetch_userland () { :; }   # already installed on the host

stage_busybox () {
  cp "$(command -v busybox)" "$STAGE/bin/busybox"
  for a in $("$STAGE/bin/busybox" --list); do
    [ -e "$STAGE/bin/$a" ] || ln -s busybox "$STAGE/bin/$a"
  done
}

stage_binary () {  # stage_binary NAME DEST: copy one host binary and the libraries ldd names (same paths inside the PE)
  local src dst="$2"
  src="$(command -v "$1")"
  cp -L "$src" "$STAGE/$dst"
  ldd "$src" 2>/dev/null | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
    [ -e "$STAGE$lib" ] && continue
    mkdir -p "$STAGE$(dirname "$lib")"
    cp -L "$lib" "$STAGE$lib"
  done
}

stage_grub () {  # stage_grub PLATFORM: the host's /usr/lib/grub/PLATFORM (grub-pc-bin, grub-efi-amd64-bin)
  [ -f "/usr/lib/grub/$1/modinfo.sh" ] || die "/usr/lib/grub/$1 is missing (run scripts/install-deps.sh)"
  mkdir -p "$STAGE/usr/lib/grub"
  cp -a "/usr/lib/grub/$1" "$STAGE/usr/lib/grub/$1"
  rm -rf "$STAGE/usr/lib/grub/$1/monolithic"   # prebuilt unsigned EFI images: grub-install builds its own
}

stage_vmlinuz () { cp "$1" "$2"; }   # Debian's x86 vmlinuz is a bzImage with its EFI stub: boots as it is
