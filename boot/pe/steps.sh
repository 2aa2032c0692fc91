#!/bin/sh
# Step implementations of the task-sequence runner (sourced by runner.sh; busybox ash).
# Each step runs in a subshell: it reads its JSON from $3, keeps what later steps need in $RUN/state.*
# (disk, target volume, filesystem), calls `fail MESSAGE` to stop, and `touch $RUN/step.ok` when done.

fail () { echo "$*" > "$RUN/error"; echo "netboot: error: $*"; exit 1; }
get () { jq -r "$1 // empty" "$STEP"; }
state () { cat "$RUN/state.$1" 2>/dev/null; }
setstate () { echo "$2" > "$RUN/state.$1"; }

run_step () {  # run_step TYPE INDEX STEP_JSON
  STEP=$3; IDX=$2
  case "$1" in
    partition) step_partition ;;
    applyImage) step_apply_image ;;
    applyFiles) step_apply_files ;;
    setComputerName) step_computer_name ;;
    runCommand) step_run_command ;;
    makeBootable) step_make_bootable ;;
    capture) step_capture ;;
    *) fail "unknown step type '$1'" ;;
  esac
  touch "$RUN/step.ok"
}

# --- disks ----------------------------------------------------------------------------------------------
first_fixed_disk () {  # the first disk that is not loop/ram/optical/removable and has a size
  for d in /sys/block/*; do
    n=${d##*/}
    # arm64 boards also list SPI/NOR flash (mtdblockN, the firmware's own) and an eMMC's hardware boot and
    # RPMB areas (mmcblkNbootM, mmcblkNrpmb) next to the eMMC's user area mmcblkN: none is a target disk.
    case "$n" in loop*|ram*|sr*|zram*|fd*|nbd*|dm-*|md*|mtdblock*|mmcblk*boot*|mmcblk*rpmb) continue ;; esac
    [ "$(cat "$d/removable" 2>/dev/null)" = 1 ] && continue
    [ "$(cat "$d/size" 2>/dev/null || echo 0)" -gt 0 ] || continue
    echo "/dev/$n"; return 0
  done
  return 1
}
part_dev () {  # part_dev /dev/nvme0n1 2 → /dev/nvme0n1p2 ; part_dev /dev/sda 2 → /dev/sda2
  case "$1" in *[0-9]) echo "${1}p$2" ;; *) echo "$1$2" ;; esac
}
wait_dev () {  # wait up to 10 s for a block device node
  n=0; while [ ! -b "$1" ] && [ $n -lt 20 ]; do mdev -s 2>/dev/null; sleep 0.5; n=$((n + 1)); done
  [ -b "$1" ]
}
mounted () { grep -q " $1 " /proc/mounts; }   # busybox-static has no mountpoint applet
umount_target () {
  mounted /mnt/target && { sync; umount /mnt/target || umount -l /mnt/target; }
  return 0
}
mount_target () {  # mount the target volume at /mnt/target (NTFS through ntfs-3g, ext4 natively)
  t=$(state target); [ -n "$t" ] || fail "no target volume: the sequence needs a partition step first"
  mounted /mnt/target && return 0
  modprobe -q fuse 2>/dev/null
  if [ "$(state fs)" = ext4 ]; then mount -t ext4 "$t" /mnt/target || fail "cannot mount $t (ext4)"
  else ntfs-3g "$t" /mnt/target -o big_writes || fail "cannot mount $t with ntfs-3g"; fi
}

step_partition () {
  disk=$(get .disk)
  if [ -z "$disk" ]; then
    n=0; until disk=$(first_fixed_disk) || [ $n -ge 20 ]; do sleep 0.5; n=$((n + 1)); done
    [ -n "$disk" ] || fail "no fixed disk found (/sys/block: $(ls /sys/block | tr '\n' ' '))"
  fi
  case "$disk" in /dev/*) ;; *) disk=/dev/$disk ;; esac
  wait_dev "$disk" || fail "disk $disk does not exist"
  scheme=$(get .scheme); scheme=${scheme:-auto}; fs=$(get .filesystem); fs=${fs:-ntfs}
  if [ "$scheme" = auto ]; then
    # UEFI firmware ⇒ GPT + EFI system partition; BIOS ⇒ MBR with one active partition.
    if [ -d /sys/firmware/efi ]; then scheme=gpt; else scheme=mbr; fi
  fi
  mib=$(( $(cat /sys/block/${disk##*/}/size) / 2048 ))
  echo "netboot: partitioning $disk (${mib} MiB): $scheme, $fs"
  umount_target
  wipefs -q -a "$disk" >/dev/null 2>&1
  if [ "$scheme" = gpt ]; then
    # EFI system partition 260 MiB (the size Windows uses on 4K-native disks; FAT32 needs >= 32 MiB)
    data_type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7; [ "$fs" = ext4 ] && data_type=0FC63DAF-8483-4772-8E79-3D69D8477DE4
    printf 'label: gpt\nsize=260MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"\ntype=%s, name="%s"\n' \
      "$data_type" "$( [ "$fs" = ext4 ] && echo root || echo 'Basic data partition')" \
      | sfdisk -q --wipe always --wipe-partitions always "$disk" || fail "sfdisk failed on $disk (gpt)"
    esp=$(part_dev "$disk" 1); target=$(part_dev "$disk" 2)
  else
    mbr_type=7; [ "$fs" = ext4 ] && mbr_type=83
    printf 'label: dos\ntype=%s, bootable\n' "$mbr_type" \
      | sfdisk -q --wipe always --wipe-partitions always "$disk" || fail "sfdisk failed on $disk (mbr)"
    esp=""; target=$(part_dev "$disk" 1)
  fi
  blockdev --rereadpt "$disk" 2>/dev/null
  if [ -n "$esp" ]; then
    wait_dev "$esp" || fail "partition $esp did not appear"
    mkfs.fat -F 32 -n SYSTEM "$esp" >/dev/null || fail "mkfs.fat failed on $esp"
    echo "netboot: $esp: EFI system partition (FAT32)"
  fi
  wait_dev "$target" || fail "partition $target did not appear"
  if [ "$fs" = ext4 ]; then mkfs.ext4 -q -F -L netboot "$target" || fail "mkfs.ext4 failed on $target"
  else mkntfs -Q -q -L Windows "$target" || fail "mkntfs failed on $target"; fi
  echo "netboot: $target: $fs"
  setstate disk "$disk"; setstate target "$target"; setstate esp "$esp"; setstate fs "$fs"; setstate scheme "$scheme"
}

. /netboot/steps-image.sh
. /netboot/steps-boot.sh
