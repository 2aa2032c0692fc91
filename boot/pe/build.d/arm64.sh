# Sourced by build.sh for --arch arm64. Everything comes from Debian bookworm's arm64 packages, fetched by apt
# in a private state under $CACHE/arm64 (its own sources.list, lists and archives; dpkg status /dev/null), so
# the host's apt/dpkg configuration is neither read nor changed and nothing is installed; apt checks the
# InRelease signatures against debian-archive-keyring. The userland packages and their dependency closure are
# unpacked with dpkg-deb -x into a sysroot (cached per set of package files). A foreign binary cannot run
# here, so ldd and `busybox --list` are out: libraries are found by following DT_NEEDED (readelf, binutils)
# through the sysroot's multiarch directories, and the busybox applets are read from the binary itself.

ACACHE="$CACHE/arm64"
SUITE=bookworm
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MULTIARCH=aarch64-linux-gnu
APT_OPTS=(-o Dir::Etc::SourceList="$ACACHE/sources.list" -o Dir::Etc::SourceParts="$ACACHE/none"
  -o Dir::State::Lists="$ACACHE/lists" -o Dir::Cache="$ACACHE/apt" -o Dir::State::Status=/dev/null
  -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Acquire::Languages=none -o APT::Sandbox::User=root)
APT_GET=(apt-get "${APT_OPTS[@]}")
APT_CACHE=(apt-cache "${APT_OPTS[@]}")

# Drivers of arm64 servers, clouds and QEMU's virt machine; their dependencies are added automatically. The
# PCIe host bridge (pci-host-generic), the PL011 UART and the EFI RTC are built into Debian's arm64 kernel.
MODULES=(
  virtio_mmio virtio_pci virtio_net virtio_blk virtio_scsi virtio_console
  igb igc ixgbe ixgbevf i40e ice bnxt_en mlx4_en mlx5_core hns3 hclge nicvf thunder_bgx tg3 r8169 e1000e
  atlantic qede ena gve amd-xgbe mvpp2 xgene-enet
  nvme ahci ahci_platform sd_mod sr_mod megaraid_sas mpt3sas hisi_sas_v3_hw
  usb_storage uas xhci_pci xhci_plat_hcd ehci_pci
  fuse ext4 vfat nls_cp437 nls_ascii nls_iso8859_1 nls_utf8 efivarfs crc32c_generic
)
# makeBootable: arm64 UEFI machines (ESP, removable-media path BOOTAA64.EFI).
GRUB_PLATFORMS=(arm64-efi)
PACKAGES+=(grub-efi-arm64-bin)
USERLAND_URIS=""   # apt-get --print-uris of the userland closure: 'URI' FILE SIZE SHA256:… per package
SYSROOT=""

arch_prepare () {
  local t
  for t in apt-get apt-cache dpkg-deb depmod modprobe cpio zstd; do command -v "$t" >/dev/null || die "$t not found (run scripts/install-deps.sh)"; done
  command -v readelf >/dev/null || die "readelf not found: install binutils (it reads the arm64 binaries' DT_NEEDED; ldd cannot run them)"
  [ -s "$KEYRING" ] || die "$KEYRING is missing (package debian-archive-keyring): apt could not verify Debian's signatures"
  mkdir -p "$ACACHE"/{lists/partial,apt/archives/partial,debs}
  # One private apt state, shared by every output directory: one user at a time.
  exec 8>"$ACACHE/.lock"
  flock 8
  cat > "$ACACHE/sources.list" <<EOF
deb [signed-by=$KEYRING] http://deb.debian.org/debian $SUITE main
deb [signed-by=$KEYRING] http://deb.debian.org/debian $SUITE-updates main
deb [signed-by=$KEYRING] http://deb.debian.org/debian-security $SUITE-security main
EOF
  phase "reading Debian $SUITE arm64 package lists (private apt state in $ACACHE)"
  # Offline, apt-get update keeps the lists it had (and may still exit 0): the build goes on with those.
  "${APT_GET[@]}" -q update >"$ACACHE/update.log" 2>&1 || true
  local failed
  failed="$(grep -E '^(E|W): ' "$ACACHE/update.log" | grep -v 'performed unsandboxed' | tail -n 2 | tr '\n' ' ' || true)"
  compgen -G "$ACACHE/lists/*_binary-arm64_Packages*" >/dev/null || die "apt-get update found no package lists: ${failed:-see $ACACHE/update.log}"
  [ -z "$failed" ] || phase "warning: apt-get update: $failed(using the lists of the last successful update)"
  resolve_userland
}

resolve_userland () {  # the real packages PACKAGES depend on (recursively, Depends and Pre-Depends): their files
  local pkgs tmp
  # Top-level lines of the recursive listing are packages; "<name>" ones are virtual (provided by another).
  pkgs="$("${APT_CACHE[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "${PACKAGES[@]}" | grep -v '^[ <]' | LC_ALL=C sort -u)" \
    || die "apt-cache depends cannot resolve ${PACKAGES[*]} for arm64 ($ACACHE/lists)"
  # apt-get --print-uris download prints nothing for files already in the current directory: ask from an empty one.
  tmp="$(mktemp -d)"
  USERLAND_URIS="$(cd "$tmp" && "${APT_GET[@]}" --print-uris download $pkgs)" || { rmdir "$tmp"; die "cannot resolve the arm64 userland packages"; }
  rmdir "$tmp"
  USERLAND_URIS="$(echo "$USERLAND_URIS" | LC_ALL=C sort -k2,2)"
  phase "arm64 userland closure: $(echo "$USERLAND_URIS" | wc -l) packages ($(echo "$USERLAND_URIS" | awk '{s+=$3} END {printf "%.0f", s/1048576}') MiB)"
}

arch_versions () { echo "$USERLAND_URIS" | awk '{print $2, $4}'; }   # file name (package_version_arch) and sha256

arch_fetch_userland () {  # download what is missing and unpack the closure into the sysroot of this package set
  local key files f
  key="$(arch_versions | sha256sum | cut -c1-16)"
  SYSROOT="$ACACHE/sysroot-$key"
  if [ -f "$SYSROOT/.complete" ]; then phase "userland sysroot cached in $SYSROOT"; return 0; fi
  files="$(echo "$USERLAND_URIS" | awk '{print $2}')"
  # apt-get download fetches each package=version again only when the file is missing or its hash is wrong.
  phase "downloading the arm64 userland packages into $ACACHE/debs"
  (cd "$ACACHE/debs" && "${APT_GET[@]}" -q download $(echo "$files" | sed -E 's/^([^_]+)_([^_]+)_.*/\1=\2/; s/%3a/:/g') >/dev/null) \
    || die "apt-get download of the arm64 userland failed"
  phase "unpacking $(echo "$files" | wc -l) packages into $SYSROOT"
  rm -rf "$SYSROOT.tmp"; mkdir -p "$SYSROOT.tmp"
  for f in $files; do dpkg-deb -x "$ACACHE/debs/$f" "$SYSROOT.tmp"; done
  touch "$SYSROOT.tmp/.complete"
  rm -rf "$SYSROOT"; mv "$SYSROOT.tmp" "$SYSROOT"
  # Older package sets are not needed any more.
  for f in "$ACACHE"/sysroot-*; do [ "$f" = "$SYSROOT" ] || rm -rf "$f"; done
}

# --- ELF helpers (binutils readelf) -------------------------------------------------------------------
elf_machine () { readelf -h "$1" 2>/dev/null | sed -n 's/^ *Machine: *//p'; }
elf_needed () { readelf -d -W "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }
elf_interp () { readelf -l -W "$1" 2>/dev/null | sed -n 's/.*Requesting program interpreter: \(.*\)\]$/\1/p'; }

sysroot_real () {  # sysroot_real /PATH: the regular file /PATH names inside the sysroot (absolute links stay in it)
  local p="$1" n=0 l
  while [ -L "$SYSROOT$p" ]; do
    l="$(readlink "$SYSROOT$p")"
    case "$l" in /*) p="$l" ;; *) p="$(dirname "$p")/$l" ;; esac
    n=$((n + 1)); [ $n -lt 20 ] || return 1
  done
  [ -f "$SYSROOT$p" ] && echo "$SYSROOT$p"
}

sysroot_lib () {  # sysroot_lib SONAME: /PATH of the library in the sysroot (glibc's default multiarch search path)
  local d
  for d in /lib/$MULTIARCH /usr/lib/$MULTIARCH /lib /usr/lib; do
    [ -e "$SYSROOT$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}

stage_file () {  # stage_file /PATH: copy it from the sysroot to the same path in the PE; a symlink stays one
  local p="$1" l
  [ -e "$STAGE$p" ] || [ -L "$STAGE$p" ] && return 0
  mkdir -p "$STAGE$(dirname "$p")"
  if [ -L "$SYSROOT$p" ]; then
    l="$(readlink "$SYSROOT$p")"
    ln -s "$l" "$STAGE$p"
    case "$l" in /*) stage_file "$l" ;; *) stage_file "$(dirname "$p")/$l" ;; esac
  else
    cp "$SYSROOT$p" "$STAGE$p"
  fi
}

stage_needed () {  # stage_needed FILE: the loader and the DT_NEEDED closure of one sysroot ELF file
  local queue=("$1") f so lib interp
  interp="$(elf_interp "$1")"
  [ -z "$interp" ] || stage_file "$interp"
  while [ ${#queue[@]} -gt 0 ]; do
    f="${queue[0]}"; queue=("${queue[@]:1}")
    for so in $(elf_needed "$f"); do
      lib="$(sysroot_lib "$so")" || die "$so (needed by ${f#"$SYSROOT"}) is in none of the arm64 packages"
      [ -e "$STAGE$lib" ] && continue
      stage_file "$lib"
      queue+=("$(sysroot_real "$lib")")
    done
  done
}

stage_binary () {  # stage_binary NAME DEST
  local d p="" real
  for d in /usr/sbin /usr/bin /sbin /bin; do [ -e "$SYSROOT$d/$1" ] && { p="$d/$1"; break; }; done
  [ -n "$p" ] || die "$1 is in none of the arm64 packages (${PACKAGES[*]})"
  real="$(sysroot_real "$p")" || die "$p is a dangling link in the sysroot"
  [ "$(elf_machine "$real")" = AArch64 ] || die "$p is not an AArch64 ELF file ($(elf_machine "$real"))"
  cp "$real" "$STAGE/$2"
  stage_needed "$real"
}

busybox_applets () {
  # busybox keeps its applet names as one sorted, NUL-separated string (applet_names[] = "[\0[[\0acpid\0…",
  # generated by applets/applet_tables.c) ended by an empty name: read it from the binary. Identical to what
  # `busybox --list` prints (checked against the amd64 busybox-static of the same version).
  local off
  off="$(grep -m1 -obUaP '\x00\[\x00\[\[\x00' "$1" | cut -d: -f1 || true)"
  [ -n "$off" ] || die "no applet table in $1"
  dd if="$1" iflag=skip_bytes,count_bytes skip=$((off + 1)) count=65536 status=none | tr '\0' '\n' | awk 'done {next} $0 == "" {done = 1; next} {print}'
}

stage_busybox () {
  local a applets
  cp "$SYSROOT/bin/busybox" "$STAGE/bin/busybox"
  [ "$(elf_machine "$STAGE/bin/busybox")" = AArch64 ] || die "busybox-static is not an AArch64 binary"
  applets="$(busybox_applets "$STAGE/bin/busybox")"
  for a in sh mount udhcpc nc mdev ip tar sed awk; do
    grep -qx "$a" <<<"$applets" || die "busybox applet list read from the binary lacks $a: $(echo "$applets" | head -c 200)"
  done
  for a in $applets; do
    [ -e "$STAGE/bin/$a" ] || ln -s busybox "$STAGE/bin/$a"
  done
}

stage_grub () {  # stage_grub PLATFORM: /usr/lib/grub/PLATFORM of the sysroot (grub-efi-arm64-bin)
  [ -f "$SYSROOT/usr/lib/grub/$1/modinfo.sh" ] || die "/usr/lib/grub/$1 is in none of the arm64 packages"
  mkdir -p "$STAGE/usr/lib/grub"
  cp -a "$SYSROOT/usr/lib/grub/$1" "$STAGE/usr/lib/grub/$1"
  rm -rf "$STAGE/usr/lib/grub/$1/monolithic"   # prebuilt unsigned EFI images: grub-install builds its own
}

stage_vmlinuz () {  # stage_vmlinuz SRC DST: the uncompressed arm64 Image, EFI stub included
  case "$(head -c2 "$1" | od -An -tx1 | tr -d ' \n')" in
    # Some arm64 kernels ship Image.gz as vmlinuz: firmware cannot LoadImage a gzip file, so unpack it.
    1f8b) zcat "$1" > "$2" ;;
    *) cp "$1" "$2" ;;
  esac
  # Documentation/arch/arm64/booting.rst: the Image header has the magic "ARM\x64" at 0x38; with the EFI stub its
  # first bytes are "MZ" (a PE/COFF image), which is what lets iPXE's arm64 EFI build start it as an EFI
  # application. A gzip'ed Image has neither; an EFI zboot image ("zimg" at offset 4) is no Image either.
  [ "$(head -c2 "$2")" = MZ ] && [ "$(dd if="$2" bs=1 skip=56 count=4 status=none)" = $'ARM\x64' ] \
    || die "$1 is not an arm64 Image with an EFI stub ($(file -b "$1" 2>/dev/null || true))"
}
