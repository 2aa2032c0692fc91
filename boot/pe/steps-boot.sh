#!/bin/sh
# The makeBootable step: the applied Linux image boots from its own disk afterwards (sourced by steps.sh;
# busybox ash; helpers fail/get/state/mount_target come from there, secure_boot_var from runner.sh).
#
# GRUB comes from the PE (grub-install and /usr/lib/grub/PLATFORM of Debian's grub packages) and goes where
# the firmware looks by itself:
#   BIOS: the MBR and the gap after it (i386-pc boot.img + core.img), on the MBR disk the partition step made;
#   UEFI: the removable-media path of the EFI system partition, \EFI\BOOT\BOOTX64.EFI (BOOTAA64.EFI on arm64),
#         with --no-nvram: no boot entry is added to the firmware's NVRAM, so the boot order keeps the network
#         first and the appliance keeps deciding (a machine told to boot locally falls through to the disk).
# /boot/grub/grub.cfg is written here, one entry per kernel in /boot (newest first), not by the image's own
# grub-mkconfig; the OS's update-grub replaces it at its next kernel update. /etc/fstab is pointed at the new
# volumes: the captured reference machine's UUIDs do not exist on this disk.

# The image's own kernel arguments: GRUB_CMDLINE_LINUX and GRUB_CMDLINE_LINUX_DEFAULT of /etc/default/grub,
# read as text (the file is not sourced in the PE).
image_kernel_args () {
  f=/mnt/target/etc/default/grub
  [ -f "$f" ] || return 0
  for v in GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT; do
    sed -n "s/^[[:space:]]*$v=//p" "$f" | tail -n 1 | sed -e 's/^"\(.*\)"[[:space:]]*$/\1/' -e "s/^'\(.*\)'[[:space:]]*\$/\1/"
  done | tr '\n' ' ' | sed 's/  */ /g; s/^ //; s/ $//'
}

os_name () {  # PRETTY_NAME of the image's os-release, without quotes
  for f in /mnt/target/etc/os-release /mnt/target/usr/lib/os-release; do
    [ -f "$f" ] || continue
    n=$(sed -n 's/^PRETTY_NAME=//p' "$f" | tail -n 1 | tr -d "\"'\\\\")
    [ -n "$n" ] && { echo "$n"; return 0; }
  done
  echo Linux
}

# Kernels in the image's /boot, newest first: vmlinuz-VERSION (Debian, Fedora, SUSE), vmlinuz-linux (Arch),
# plain vmlinuz. Symlinks are skipped (they name a kernel listed anyway).
image_kernels () {
  ls /mnt/target/boot 2>/dev/null | grep -E '^vmlinu[xz](-.+)?$' | sort -V -r | while read -r k; do
    [ -L "/mnt/target/boot/$k" ] || [ ! -f "/mnt/target/boot/$k" ] || echo "$k"
  done
}

initrd_for () {  # initrd_for vmlinuz-X: the matching initramfs in /boot, by each distribution's naming
  v=${1#vmlinu?}; v=${v#-}
  for i in ${v:+initrd.img-$v initramfs-$v.img initrd-$v} initrd.img initrd; do
    [ -f "/mnt/target/boot/$i" ] && { echo "$i"; return 0; }
  done
  return 1
}

# GRUB on the serial port too when the kernel's console is one (console=ttyS1,115200n8 → unit 1, 115200):
# servers are managed over serial-over-LAN. x86 only (arm64 GRUB talks to the firmware's console).
grub_serial_lines () {
  case "$1" in *-efi) [ "$1" = x86_64-efi ] || return 0 ;; esac
  for a in $2; do
    case "$a" in
      console=ttyS[0-9]*)
        u=${a#console=ttyS}; u=${u%%,*}; s=${a#*,}; [ "$s" = "$a" ] && s=9600; s=${s%%[!0-9]*}
        echo "serial --unit=$u --speed=${s:-9600}"
        echo 'terminal_input console serial'
        echo 'terminal_output console serial'
        return 0 ;;
    esac
  done
}

write_grub_cfg () {  # write_grub_cfg PLATFORM ROOT_UUID ROOT_PARTUUID ARGS
  cfg=/mnt/target/boot/grub/grub.cfg
  mkdir -p /mnt/target/boot/grub
  [ -f "$cfg" ] && ! grep -q '^# netboot makeBootable' "$cfg" && mv "$cfg" "$cfg.before-netboot"
  name=$(os_name)
  {
    echo "# netboot makeBootable: written at deployment ($(date -u '+%Y-%m-%d %H:%M UTC')); the OS's update-grub may replace it."
    echo 'set default=0'
    echo 'set timeout=1'
    grub_serial_lines "$1" "$4"
    echo 'insmod part_gpt'
    echo 'insmod part_msdos'
    echo 'insmod ext2'
    echo 'insmod gzio'   # as Debian's 10_linux: a gzip-compressed kernel (Ubuntu's arm64 vmlinuz) is unpacked on load
    echo "search --no-floppy --fs-uuid --set=root $2"
    n=0
    for k in $(image_kernels); do
      v=${k#vmlinu?}; v=${v#-}
      # Without an initramfs nothing can look a file system UUID up: the kernel finds PARTUUID= itself.
      if i=$(initrd_for "$k"); then root="UUID=$2"; else root="PARTUUID=$3"; i=""; fi
      echo "menuentry '$name${v:+ ($v)}' --id netboot-$n {"
      echo "  linux /boot/$k root=$root ro${4:+ $4}"
      [ -n "$i" ] && echo "  initrd /boot/$i"
      echo '}'
      n=$((n + 1))
    done
  } > "$cfg.tmp" && mv "$cfg.tmp" "$cfg" || fail "cannot write /boot/grub/grub.cfg"
}

# /etc/fstab: / and /boot/efi name the new volumes (the mount options are kept); other block devices of the
# reference machine (swap, /home on another disk…) are not on this disk and are commented out, unless marked
# noauto or nofail; tmpfs, proc, network mounts stay. A missing / (or /boot/efi on UEFI) line is added.
rewrite_fstab () {  # rewrite_fstab ROOT_UUID [ESP_UUID]
  f=/mnt/target/etc/fstab
  mkdir -p /mnt/target/etc; [ -f "$f" ] || : > "$f"
  efidir=0; [ -d /mnt/target/boot/efi ] && efidir=1
  awk -v root="UUID=$1" -v esp="${2:+UUID=$2}" -v efidir="$efidir" '
    function swap_source (line, src) { sub(/^[ \t]*[^ \t]+/, src, line); return line }
    /^[ \t]*(#|$)/ || NF < 2 { print; next }
    $2 == "/" { print swap_source($0, root); r = 1; next }
    $2 == "/boot/efi" && esp != "" { print swap_source($0, esp); e = 1; next }
    ($1 ~ /^(UUID|PARTUUID|LABEL|PARTLABEL)=/ || $1 ~ /^\/dev\//) && $4 !~ /(^|,)(noauto|nofail)(,|$)/ {
      print "# netboot: not on the deployed disk: " $0; next }
    { print }
    END {
      if (!r) print root " / ext4 errors=remount-ro 0 1"
      if (!e && esp != "" && efidir) print esp " /boot/efi vfat umask=0077 0 1"
    }' "$f" > "$f.netboot" && mv "$f.netboot" "$f" || fail "cannot rewrite /etc/fstab"
  c=$(grep -c '^# netboot: not on the deployed disk: ' "$f")
  echo "netboot: /etc/fstab: / is UUID=$1${2:+, /boot/efi UUID=$2}; entries of the reference machine commented out: $c"
}

# The deployed machine's own identity: a new machine ID and new SSH host keys (below), unless the step says
# keepIdentity: true, for a machine restored from its own capture, which must stay the machine its peers know
# (known_hosts, DHCP leases by DUID, journal) and for which new keys would look like an impostor.
machine_identity () {
  if [ "$(get .keepIdentity)" = true ]; then
    echo "netboot: keepIdentity: the image's /etc/machine-id and SSH host keys are kept as captured"
    return 0
  fi
  reset_machine_id
  new_ssh_host_keys
}

# The reference machine's /etc/machine-id would make every deployed machine the same to systemd (its DHCP client
# DUID and IAID, journal, dbus): emptied, systemd writes a new one at first boot (machine-id(5), "first boot"
# semantics). /var/lib/dbus/machine-id, when it is a copy rather than the usual link to it, goes too.
reset_machine_id () {
  f=/mnt/target/etc/machine-id
  if [ -s "$f" ] && [ ! -L "$f" ]; then : > "$f" && echo "netboot: /etc/machine-id emptied: systemd gives this machine its own at first boot"; fi
  d=/mnt/target/var/lib/dbus/machine-id
  [ -f "$d" ] && [ ! -L "$d" ] && rm -f "$d"
  return 0
}

# The reference machine's SSH host keys would be every deployed machine's: whoever has one machine's private key
# could pose as any of them, and clients could not tell them apart. Each key type the image has is made anew by
# the image's own ssh-keygen (run in the image: the PE and the image share the CPU architecture), written beside
# the old key and then renamed over it, so a failure leaves the old key rather than none (sshd refuses to start
# without a host key). A type the image's ssh-keygen no longer makes (dsa) is removed when another type was made.
new_ssh_host_keys () {
  d=/mnt/target/etc/ssh
  keys=$(ls "$d" 2>/dev/null | grep -E '^ssh_host_[a-z0-9]+_key$')
  [ -n "$keys" ] || return 0
  if [ ! -x /mnt/target/usr/bin/ssh-keygen ]; then
    echo "netboot: warning: the image has SSH host keys but no /usr/bin/ssh-keygen: every machine deployed from it keeps the reference machine's keys"
    return 0
  fi
  mount -o bind /dev /mnt/target/dev || { echo "netboot: warning: cannot bind /dev into the image: the reference machine's SSH host keys are kept"; return 0; }
  host=$(head -n 1 /mnt/target/etc/hostname 2>/dev/null); made=""; left=""
  for k in $keys; do
    type=${k#ssh_host_}; type=${type%_key}
    rm -f "$d/$k.netboot-new" "$d/$k.netboot-new.pub"
    if chroot /mnt/target /usr/bin/ssh-keygen -q -N '' -t "$type" -C "root@${host:-localhost}" -f "/etc/ssh/$k.netboot-new" > "$RUN/ssh-keygen.log" 2>&1 \
        && [ -s "$d/$k.netboot-new" ] && [ -s "$d/$k.netboot-new.pub" ]; then
      mv "$d/$k.netboot-new" "$d/$k" && mv "$d/$k.netboot-new.pub" "$d/$k.pub" && made="$made $type"
    else
      rm -f "$d/$k.netboot-new" "$d/$k.netboot-new.pub"; left="$left $type"
    fi
  done
  umount /mnt/target/dev
  if [ -z "$made" ]; then
    echo "netboot: warning: the image's ssh-keygen made no SSH host key ($(tail -n 1 "$RUN/ssh-keygen.log" | tr -d '\r')): the reference machine's keys are kept"
    return 0
  fi
  for type in $left; do rm -f "$d/ssh_host_${type}_key" "$d/ssh_host_${type}_key.pub"; done
  echo "netboot: new SSH host keys:$made${left:+ (removed, the image's ssh-keygen cannot make them:$left)}"
}

# debconf_set QUESTION VALUE: sets a question the image's debconf database already holds (so its package is
# installed) in /var/cache/debconf/config.dat, debconf's File driver: one RFC 822-style stanza per question
# (Name, Template, Value, Owners, Flags). Only that Value line changes (added if the stanza has none); the file
# keeps its mode and is replaced whole. A question the database lacks is left alone (returns 1).
debconf_set () {
  f=/mnt/target/var/cache/debconf/config.dat
  [ -f "$f" ] && grep -qxF "Name: $1" "$f" || return 1
  awk -v q="Name: $1" -v v="Value: $2" '
    /^Name: / { inq = ($0 == q); done = 0 }
    inq && /^Value:/ { print v; done = 1; next }
    inq && /^$/ && !done { print v; done = 1 }
    { print }
    END { if (inq && !done) print v }
  ' "$f" > "$f.netboot" && chmod "$(stat -c %a "$f")" "$f.netboot" && mv "$f.netboot" "$f"
}

# An image with Debian's or Ubuntu's own GRUB packages runs its own grub-install at its next GRUB upgrade (the
# package's postinst). On BIOS it installs to grub-pc/install_devices: this disk, not the reference machine's, which
# does not exist here. On UEFI the postinst installs only where \EFI\<distributor> exists on the ESP (this step does
# not make it; an admin's grub-install may): then without a boot entry ahead of the network (the appliance would stop
# deciding what the machine boots) and with the removable-media path this step installed at refreshed, not left with
# an older GRUB core than the modules in /boot/grub: grub2/update_nvram false, grub2/force_efi_extra_removable true
# (grub-efi-*'s postinst passes --no-nvram and --force-extra-removable). Except in an image with its signed shim and
# GRUB (signed_boot_files): there grub-install installs shim, and with the removable-media copy it puts shim's
# fallback beside it (Debian's grub-install copies fb<arch>.efi and writes BOOT<ARCH>.CSV): booted from \EFI\BOOT,
# say with the network down, shim would run the fallback, which writes a boot entry ahead of the network. There the
# removable-media path is left alone (false); the local boot tries \EFI\<distributor>'s shim before it.
grub_package_settings () {  # grub_package_settings PLATFORM DISK
  answers=""
  if [ "$1" = i386-pc ]; then
    debconf_set grub-pc/install_devices "$2" && answers="grub-pc/install_devices $2"
  else
    removable=true
    [ -n "$(signed_boot_files "$1")" ] && removable=false
    debconf_set grub2/update_nvram false && answers="grub2/update_nvram false"
    debconf_set grub2/force_efi_extra_removable $removable && answers="$answers${answers:+, }grub2/force_efi_extra_removable $removable"
  fi
  [ -n "$answers" ] && echo "netboot: the image's GRUB packages, for their next upgrade (debconf): $answers"
  return 0
}

secure_boot_on () { [ "$(secure_boot_var)" = 1 ]; }   # secure_boot_var: runner.sh

# Secure Boot: the firmware starts only what its db trusts (Microsoft's UEFI CA signs shim), shim only what its
# vendor certificate signed, and the signed GRUB only a kernel shim accepts. The PE's own GRUB is unsigned, so the
# image's own signed chain goes on the ESP instead: its shim and GRUB (Debian's and Ubuntu's shim-signed and
# grub-efi-<arch>-signed packages) are its kernel's vendor's. install_signed_boot PLATFORM UUID, ESP mounted on
# /mnt/esp: \EFI\BOOT\BOOTX64.EFI (BOOTAA64.EFI) is the image's shim, grubx64.efi (grubaa64.efi) beside it is its
# signed GRUB, mmx64.efi its MokManager when it has one. No fbx64.efi: shim's fallback would write NVRAM boot
# entries ahead of the network. That GRUB's built-in prefix is \EFI\<vendor>, which this step does not create:
# its embedded config then falls back to $cmdpath/grub.cfg, i.e. \EFI\BOOT\grub.cfg, which finds the root volume
# by UUID and reads its /boot/grub/grub.cfg (written below, as without Secure Boot).
signed_boot_files () {  # signed_boot_files PLATFORM → "shim grub mm" under /mnt/target (mm may be -), or nothing
  case "$1" in arm64-efi) e=aa64 ;; *) e=x64 ;; esac
  shim=/mnt/target/usr/lib/shim/shim$e.efi.signed; grub=/mnt/target/usr/lib/grub/$1-signed/grub$e.efi.signed
  mm=/mnt/target/usr/lib/shim/mm$e.efi.signed
  [ -s "$shim" ] && [ -s "$grub" ] || return 0
  [ -s "$mm" ] || mm=-
  echo "$shim $grub $mm"
}

# Whether an EFI executable carries an Authenticode signature: its PE32+ certificate table (data directory 4,
# PE/COFF spec) is not empty. "signed", "unsigned", or "unknown" for a file that is not a PE32+ image (a
# gzip-compressed kernel, which GRUB unpacks before shim checks it). Who signed it is shim's to judge at boot.
efi_signature () {  # efi_signature FILE
  [ "$(head -c 2 "$1")" = MZ ] || { echo unknown; return 0; }
  off=$(od -An -tu4 -j60 -N4 "$1" | tr -d ' ')
  [ "$(od -An -tu2 -j$((off + 24)) -N2 "$1" | tr -d ' ')" = 523 ] || { echo unknown; return 0; }   # 0x20b: PE32+
  size=$(od -An -tu4 -j$((off + 24 + 144 + 4)) -N4 "$1" | tr -d ' ')
  if [ "${size:-0}" -gt 0 ]; then echo signed; else echo unsigned; fi
}

install_signed_boot () {  # install_signed_boot PLATFORM UUID SHIM GRUB MM
  case "$1" in arm64-efi) e=aa64; B=BOOTAA64.EFI ;; *) e=x64; B=BOOTX64.EFI ;; esac
  d=/mnt/esp/EFI/BOOT
  mkdir -p "$d" || return 1
  # each file beside its final name first, then renamed: a full ESP leaves the old loader, not half a new one
  { cp "$3" "$d/$B.netboot" && cp "$4" "$d/grub$e.efi.netboot" && { [ "$5" = - ] || cp "$5" "$d/mm$e.efi.netboot"; } &&
    printf 'search --no-floppy --fs-uuid --set=root %s\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n' "$2" > "$d/grub.cfg.netboot"
  } || { rm -f "$d"/*.netboot; return 1; }
  for f in "$d"/*.netboot; do mv "$f" "${f%.netboot}" || return 1; done
  rm -f "$d/fb$e.efi"
  mmtext=""; [ "$5" = - ] || mmtext=", its MokManager as EFI/BOOT/mm$e.efi"
  echo "netboot: Secure Boot: the image's signed shim as EFI/BOOT/$B, its signed GRUB as EFI/BOOT/grub$e.efi$mmtext; EFI/BOOT/grub.cfg reads /boot/grub/grub.cfg of UUID=$2"
}

step_make_bootable () {
  t=$(state target); [ -n "$t" ] || fail "makeBootable: no target volume: the sequence needs a partition step first"
  mount_target
  if [ -e /mnt/target/Windows/System32/winload.efi ] || [ -e /mnt/target/Windows/System32/winload.exe ]; then
    fail "makeBootable: this is a Windows image; it installs GRUB for Linux images. A Windows disk is made bootable by bcdboot, which needs WinPE (task sequence variable PE: winpe)"
  fi
  [ "$(state fs)" = ext4 ] || fail "makeBootable: the target volume is $(state fs); it installs GRUB for Linux images on ext4 (partition step: filesystem: ext4)"
  kernels=$(image_kernels)
  [ -n "$kernels" ] || fail "makeBootable: no kernel in the image's /boot (looked for vmlinuz-*): nothing to boot"
  signed=""
  if [ -d /sys/firmware/efi ]; then
    case "$(uname -m)" in aarch64|arm64) platform=arm64-efi; loader=BOOTAA64.EFI ;; *) platform=x86_64-efi; loader=BOOTX64.EFI ;; esac
    esp=$(state esp)
    [ -n "$esp" ] || fail "makeBootable: UEFI machine, but the disk has no EFI system partition (partition scheme: $(state scheme); use auto or gpt)"
    if secure_boot_on; then
      signed=$(signed_boot_files "$platform")
      [ -n "$signed" ] || fail "makeBootable: Secure Boot is on, and the image has no signed shim and GRUB (/usr/lib/shim/shim*.efi.signed and /usr/lib/grub/$platform-signed/grub*.efi.signed: Debian's and Ubuntu's shim-signed and grub-efi-*-signed packages); the GRUB this PE installs is not signed and the firmware would refuse it. Install those packages on the reference machine and capture it again, or turn Secure Boot off on this machine"
      # shim refuses an unsigned kernel: a disk that could boot none of its kernels is not made "bootable"
      unsigned_kernels=""; bootable_kernels=0
      for k in $kernels; do
        if [ "$(efi_signature "/mnt/target/boot/$k")" = unsigned ]; then unsigned_kernels="$unsigned_kernels $k"; else bootable_kernels=$((bootable_kernels + 1)); fi
      done
      [ $bootable_kernels -gt 0 ] || fail "makeBootable: Secure Boot is on, and no kernel in the image's /boot is signed ($(echo $kernels | tr ' ' ',')): its shim would refuse each of them. Boot a signed kernel on the reference machine (Debian's and Ubuntu's linux-image packages are), or turn Secure Boot off on this machine"
      [ -z "$unsigned_kernels" ] || echo "netboot: warning: Secure Boot is on, and these kernels are not signed: shim will refuse their menu entries:$unsigned_kernels"
    fi
  else
    platform=i386-pc; loader=""; esp=""
    [ "$(state scheme)" = mbr ] || fail "makeBootable: BIOS machine with a $(state scheme) disk: GRUB would need a BIOS boot partition, which the partition step does not make (use scheme: auto or mbr)"
  fi
  [ -d "/usr/lib/grub/$platform" ] || fail "makeBootable: this PE has no GRUB for $platform (/usr/lib/grub/$platform)"
  uuid=$(blkid -o value -s UUID "$t"); partuuid=$(blkid -o value -s PARTUUID "$t")
  [ -n "$uuid" ] || fail "makeBootable: blkid found no file system UUID on $t"
  espuuid=""; [ -n "$esp" ] && espuuid=$(blkid -o value -s UUID "$esp")
  args=$(image_kernel_args); extra=$(get .kernelArgs); args="$args${args:+${extra:+ }}$extra"
  echo "netboot: making $(state disk) boot $(os_name): kernels $(echo $kernels | tr ' ' ','), GRUB $platform, root UUID=$uuid${args:+, kernel arguments: $args}"
  rewrite_fstab "$uuid" "$espuuid"
  machine_identity
  grub_package_settings "$platform" "$(state disk)"
  write_grub_cfg "$platform" "$uuid" "$partuuid" "$args"
  if [ "$platform" = i386-pc ]; then
    grub-install --target=i386-pc --boot-directory=/mnt/target/boot "$(state disk)" > "$RUN/grub-install.log" 2>&1 \
      || fail "grub-install (i386-pc) on $(state disk) failed: $(tail -n 1 "$RUN/grub-install.log")"
  else
    mkdir -p /mnt/esp
    mounted /mnt/esp || mount -t vfat "$esp" /mnt/esp || fail "cannot mount the EFI system partition $esp"
    if [ -n "$signed" ]; then
      # shellcheck disable=SC2086 # three paths without blanks
      install_signed_boot "$platform" "$uuid" $signed > "$RUN/grub-install.log" 2>&1; rc=$?
      what="the image's signed shim and GRUB"; failed="cannot install $what on $esp"
    else
      grub-install --target="$platform" --efi-directory=/mnt/esp --boot-directory=/mnt/target/boot --removable --no-nvram \
        > "$RUN/grub-install.log" 2>&1; rc=$?
      what="grub-install ($platform)"; failed="$what failed"
    fi
    ok=0; [ -s "/mnt/esp/EFI/BOOT/$loader" ] && ok=1
    sync; umount /mnt/esp
    [ $rc = 0 ] || fail "$failed: $(tail -n 1 "$RUN/grub-install.log")"
    [ $ok = 1 ] || fail "$what wrote no EFI/BOOT/$loader on $esp"
  fi
  if [ -n "$signed" ]; then cat "$RUN/grub-install.log"; else sed 's/^/netboot: grub-install: /' "$RUN/grub-install.log"; fi
  echo "netboot: $(state disk) is bootable: GRUB $platform${loader:+ (EFI/BOOT/$loader)}${signed:+, signed chain for Secure Boot}, /boot/grub/grub.cfg with $(grep -c '^menuentry' /mnt/target/boot/grub/grub.cfg) menu entries"
}
