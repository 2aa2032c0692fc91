#!/bin/sh
# Steps that put content on the target volume: applyImage, applyFiles, setComputerName, runCommand, capture.
# Sourced by steps.sh (busybox ash); helpers fail/get/state/mount_target come from there.

auth_curl () { curl -H "Authorization: Bearer $TOKEN" "$@"; }

# Fetch URL into FILE, resuming with Range (curl -C -) after a dropped connection; up to 20 attempts.
fetch_resume () {
  n=0
  until auth_curl -fsS -m 3600 --connect-timeout 10 -C - -o "$2" "$1"; do
    rc=$?; n=$((n + 1))
    [ $rc = 22 ] && return 1          # HTTP error (404, 401...): retrying will not help
    [ $n -ge 20 ] && return 1
    echo "netboot: download of $1 interrupted (curl exit $rc, $(wc -c < "$2" 2>/dev/null || echo 0) bytes so far), resuming"
    sleep 2
  done
}

# Make the WIM readable at a local path without copying it whole into RAM (regular MSWIM or pipable WLPWM —
# wimlib reads both at random): httpfs2 (FUSE) mounts it and
# turns every read wimlib makes into an HTTP Range request. httpfs2 talks to range-proxy.sh on loopback
# (busybox nc runs it per connection), which fetches each range from the appliance with curl, resuming a
# range where it stopped when the connection drops, and sends the Bearer token httpfs2 cannot send.
# Fallback (no FUSE): download into the PE's RAM with a resuming curl, then verify the sha256.
PROXY_PORT=8123
open_wim () {  # open_wim URL SHA256 → prints the local path
  mkdir -p "$RUN/http"; rm -f "$RUN/proxy.size" "$RUN/proxy.err"
  modprobe -q fuse 2>/dev/null
  export PROXY_UPSTREAM="$1"
  nc -ll -p $PROXY_PORT -e /netboot/range-proxy.sh </dev/null >/dev/null 2>&1 &
  echo $! > "$RUN/proxy.pid"
  sleep 0.3
  if httpfs2 -c /dev/null -t 60 "http://127.0.0.1:$PROXY_PORT/image.wim" "$RUN/http" >/dev/null 2>&1 \
     && head -c 8 "$RUN/http/image.wim" 2>/dev/null | grep -qE 'MSWIM|WLPWM'; then
    echo "netboot: streaming $1 through httpfs2 (HTTP Range reads, nothing copied whole to RAM)" >&2
    echo "netboot: sha256 not checked while streaming (it would take a second full download);" \
      "wimlib verifies the SHA-1 of every resource it extracts" >&2
    echo "$RUN/http/image.wim"; return 0
  fi
  close_wim
  echo "netboot: httpfs2 could not open $1 ($(tail -n 2 "$RUN/proxy.err" 2>/dev/null)); downloading it into RAM with a resuming curl instead" >&2
  fetch_resume "$1" /tmp/image.wim >&2 || { echo "netboot: download of $1 failed" >&2; return 1; }
  if [ -n "$2" ]; then
    got=$(sha256sum /tmp/image.wim | cut -d' ' -f1)
    [ "$got" = "$2" ] || { echo "netboot: sha256 mismatch: expected $2, got $got" >&2; return 1; }
    echo "netboot: sha256 verified ($got)" >&2
  fi
  echo /tmp/image.wim
}
close_wim () {
  mounted "$RUN/http" && { umount "$RUN/http" 2>/dev/null || fusermount -u "$RUN/http"; }
  [ -f "$RUN/proxy.pid" ] && { kill "$(cat "$RUN/proxy.pid")" 2>/dev/null; rm -f "$RUN/proxy.pid"; }
  [ -s "$RUN/proxy.err" ] && sed 's/^/netboot: proxy: /' "$RUN/proxy.err" >&2
  rm -rf /tmp/image.wim "$RUN/proxy.err" "$RUN/proxy.cache"
}

# wimapply prints "Extracting file data: 12 MiB of 48 MiB (25%) done" with carriage returns: turn every
# 5 % step into a status progress report.
apply_progress () {
  last=-5
  tr '\r' '\n' | while IFS= read -r line; do
    case "$line" in
      *"Extracting file data"*"%)"*)
        p=${line##*(}; p=${p%%%*}
        case "$p" in ''|*[!0-9]*) continue ;; esac
        if [ "$p" -ge $((last + 5)) ] || [ "$p" = 100 ]; then last=$p; echo "netboot: applying: $p %"; status "$IDX" progress "$p" "applying image: $p %"; fi ;;
      "") ;;
      *) echo "$line" ;;
    esac
  done
}

step_apply_image () {
  url=$(get .url); sha=$(get .sha256)
  # .index is the step's position; the WIM image index travels as .imageIndex (src/deployments/types.ts)
  index=$(get .imageIndex)
  [ -n "$index" ] || { index=1; echo "netboot: warning: the appliance sent no imageIndex; applying image 1"; }
  [ -n "$url" ] || fail "applyImage: the appliance sent no image url"
  t=$(state target); [ -n "$t" ] || fail "no target volume: the sequence needs a partition step first"
  umount_target
  wim=$(open_wim "$url" "$sha") || fail "cannot read the image at $url"
  count=$(wiminfo "$wim" --header 2>/dev/null | awk '/^Image Count/{print $NF}')
  if [ -z "$count" ]; then close_wim; fail "$url is not a readable WIM"; fi
  if [ "$index" -gt "$count" ] || [ "$index" -lt 1 ]; then
    close_wim; fail "image index $index does not exist in $(get .image) (the WIM holds $count image(s))"
  fi
  size=$(get .size)
  echo "netboot: applying image $index of $count ($(get .image)${size:+, $size bytes}) to $t"
  # ext4: --unix-data restores owners, modes (setuid…), device nodes and xattrs (file capabilities) of an image
  # captured with --unix-data; an image without that data applies as root-owned files with default modes.
  if [ "$(state fs)" = ext4 ]; then mount_target; dest=/mnt/target; unix=--unix-data; else dest=$t; unix=""; fi
  { wimapply "$wim" "$index" "$dest" $unix 2>&1; echo $? > "$RUN/wimapply.rc"; } | apply_progress
  rc=$(cat "$RUN/wimapply.rc")
  close_wim
  [ "$rc" = 0 ] || fail "wimapply exited with $rc"
  echo "netboot: image applied"
}

step_apply_files () {
  url=$(get .url); dest=$(get .destination | tr '\\' '/')
  [ -n "$url" ] || fail "applyFiles: the appliance sent no url"
  mount_target
  rm -f /tmp/files.bin
  fetch_resume "$url" /tmp/files.bin || fail "cannot download $url"
  # A tar (plain, gzip, xz, zstd...) is unpacked under the destination directory; anything else is one file
  # copied to the destination (into it when the destination is a directory or ends with /).
  if tar -tf /tmp/files.bin >/dev/null 2>&1; then
    mkdir -p "/mnt/target/${dest#/}"
    tar -xf /tmp/files.bin -C "/mnt/target/${dest#/}" || fail "cannot unpack $url into $dest"
    echo "netboot: unpacked $(tar -tf /tmp/files.bin | wc -l) entries into $dest"
  else
    case "$dest" in
      */|'') d="/mnt/target/${dest#/}"; mkdir -p "$d"; out="$d/$(basename "${url%%\?*}")" ;;
      *) if [ -d "/mnt/target/${dest#/}" ]; then out="/mnt/target/${dest#/}/$(basename "${url%%\?*}")"
         else mkdir -p "$(dirname "/mnt/target/${dest#/}")"; out="/mnt/target/${dest#/}"; fi ;;
    esac
    cp /tmp/files.bin "$out" || fail "cannot write $out"
    echo "netboot: wrote ${out#/mnt/target}"
  fi
  rm -f /tmp/files.bin
}

# Windows Setup applies only the components whose processorArchitecture is the machine's own (amd64 on x64,
# arm64 on Windows on Arm), and the PE runs on the machine it deploys: take it from the PE's kernel.
windows_arch () { case "$(uname -m)" in aarch64|arm64) echo arm64 ;; i?86) echo x86 ;; *) echo amd64 ;; esac; }
unattend_block () {  # the specialize pass that names the computer (Microsoft-Windows-Shell-Setup)
  cat <<XML
  <settings pass="specialize">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="$(windows_arch)" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS" xmlns:wcm="http://schemas.microsoft.com/WMIConfig/2002/State">
      <ComputerName>$1</ComputerName>
    </component>
  </settings>
XML
}
step_computer_name () {
  # ${name} references expand from the variables (exact name, then upper case: ${serial} → SERIAL)
  name=$(jq -r --slurpfile ts "$RUN/task-sequence.json" '.computerName
    | gsub("\\$\\{(?<v>[A-Za-z0-9_]+)\\}"; ($ts[0].variables[.v] // $ts[0].variables[.v|ascii_upcase] // ""))' "$STEP")
  # NetBIOS rules: letters, digits and hyphens, at most 15 characters
  name=$(echo "$name" | tr -c 'A-Za-z0-9-\n' '-' | cut -c1-15)
  [ -n "$name" ] || fail "setComputerName: the name is empty after expanding variables"
  mount_target
  if [ -d /mnt/target/Windows/System32 ] || [ -d /mnt/target/Windows ]; then
    f=/mnt/target/Windows/Panther/unattend.xml; mkdir -p /mnt/target/Windows/Panther
    if [ -f "$f" ] && grep -q '<ComputerName>' "$f"; then
      sed -i "s|<ComputerName>[^<]*</ComputerName>|<ComputerName>$name</ComputerName>|" "$f"
    elif [ -f "$f" ] && grep -q '</unattend>' "$f"; then
      unattend_block "$name" > /tmp/block.xml
      sed -i -e '/<\/unattend>/{r /tmp/block.xml' -e 'd}' "$f" && echo '</unattend>' >> "$f"
    else
      { echo '<?xml version="1.0" encoding="utf-8"?>'; echo '<unattend xmlns="urn:schemas-microsoft-com:unattend">'
        unattend_block "$name"; echo '</unattend>'; } > "$f"
    fi
    echo "netboot: computer name $name written to Windows\\Panther\\unattend.xml"
  else
    mkdir -p /mnt/target/etc && echo "$name" > /mnt/target/etc/hostname
    # Debian's convention: the host's own name on 127.0.1.1 (the reference machine's name is there).
    [ -f /mnt/target/etc/hosts ] && grep -q '^127\.0\.1\.1[[:space:]]' /mnt/target/etc/hosts \
      && sed -i "s/^127\.0\.1\.1[[:space:]].*/127.0.1.1\t$name/" /mnt/target/etc/hosts
    echo "netboot: computer name $name written to /etc/hostname"
  fi
}

step_run_command () {
  cmd=$(get .command); [ -n "$cmd" ] || fail "runCommand: empty command"
  export TARGET=""
  if [ -n "$(state target)" ]; then mount_target; TARGET=/mnt/target; fi
  echo "netboot: running: $cmd"
  sh -c "$cmd"; rc=$?
  [ $rc = 0 ] || fail "command exited with $rc: $cmd"
}

step_capture () {
  [ -x /netboot/capture.sh ] || [ -f /netboot/capture.sh ] || fail "this PE has no capture.sh"
  umount_target
  vol=$(get .volume); vol=${vol:-auto}; comp=$(get .compression); comp=${comp:-lzx}
  name=$(get .imageName); name=${name:-$(get .image)}
  { sh /netboot/capture.sh "$vol" "$(get .image)" "$(get .uploadUrl)" "$TOKEN" "$name" "$comp" 2>&1; echo $? > "$RUN/capture.rc"; } \
    | tee "$RUN/capture.out"
  rc=$(cat "$RUN/capture.rc")
  [ "$rc" = 0 ] || fail "$(grep 'capture.sh: error:' "$RUN/capture.out" | tail -n 1 | sed 's/^capture.sh: error: //')${rc:+ (capture.sh exit $rc)}"
}
