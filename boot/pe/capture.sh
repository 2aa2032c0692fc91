#!/bin/sh
# capture.sh VOLUME IMAGE_ID UPLOAD_URL TOKEN [IMAGE_NAME] [COMPRESSION]
#
# Captures an NTFS volume with wimlib (NTFS-3G mode: reads the unmounted block device or file directly, keeping
# ACLs, ADS and reparse points), or an ext4 volume (a Linux reference machine: mounted read-only and captured with
# --unix-data, keeping owners, modes, device nodes and xattrs), and uploads the WIM to the appliance's resumable upload
# (PUT UPLOAD_URL with Content-Range; see src/http/routes/uploads.ts), verified end to end by SHA-256.
# POSIX sh for busybox ash in the netboot PE (needs wimcapture, curl, jq, sha256sum, dd, tee, mkfifo).
#
#   VOLUME       block device, NTFS image file, or "auto" (the largest NTFS partition, else the largest ext4 one)
#   COMPRESSION  none | xpress | lzx (default) | lzms
#
# Mode (CAPTURE_MODE):
#   stream (default): `wimcapture --pipable VOLUME -` is uploaded while it is being written, CAPTURE_CHUNK_MB
#     (default 32) at a time; only the chunk in flight and the next one are held in RAM (tmpfs), so the disk
#     may be far larger than the PE's memory. The SHA-256 is computed on the way (tee to sha256sum); the total
#     size and the checksum go with the last chunk. The image is a pipable WIM (wimlib reads it; Microsoft's
#     DISM does not).
#   file: capture to a regular WIM in $CAPTURE_TMP (default /tmp) first, then upload it. Needs RAM (or a
#     scratch disk) for the whole WIM; gives a WIM that DISM can read too.
# CAPTURE_DEVICES: the devices VOLUME=auto chooses from (default: every block device blkid finds).
# A dropped connection is resumed from what the server says it holds (HEAD → Upload-Offset), up to
# CAPTURE_RETRIES (default 30) times per chunk with a growing pause (at most 30 s).
# Exits 0 after the appliance answered 201 (verified and catalogued); otherwise prints one line
# "capture.sh: error: …" on stderr and exits non-zero.
set -u

VOLUME=${1:-}; IMAGE_ID=${2:-}; URL=${3:-}; TOKEN=${4:-}; NAME=${5:-${2:-}}; COMP=${6:-lzx}
MODE=${CAPTURE_MODE:-stream}
CHUNK_MB=${CAPTURE_CHUNK_MB:-32}
RETRIES=${CAPTURE_RETRIES:-30}
TMPBASE=${CAPTURE_TMP:-/tmp}

SUB=""   # set in the pipeline's subshells: their die() leaves the message for the main shell to print once
W=""
say () { echo "capture.sh: $*"; }
die () {
  if [ -n "$SUB" ]; then echo "$*" >"$W/error"; exit 1; fi
  echo "capture.sh: error: $*" >&2; exit 1
}

[ -n "$VOLUME" ] && [ -n "$IMAGE_ID" ] && [ -n "$URL" ] && [ -n "$TOKEN" ] ||
  die "usage: capture.sh VOLUME IMAGE_ID UPLOAD_URL TOKEN [IMAGE_NAME] [COMPRESSION]"
case "$COMP" in none|xpress|lzx|lzms) ;; *) die "compression must be none, xpress, lzx or lzms (got '$COMP')" ;; esac
case "$MODE" in stream|file) ;; *) die "CAPTURE_MODE must be stream or file (got '$MODE')" ;; esac
case "$CHUNK_MB" in ''|*[!0-9]*|0) die "CAPTURE_CHUNK_MB must be a positive integer" ;; esac
for tool in wimcapture curl jq sha256sum dd tee mkfifo; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing from this PE"
done

W=$(mktemp -d "$TMPBASE/capture.XXXXXX") || die "cannot create a work directory in $TMPBASE"
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

# The largest partition of a type (by size in /sys/class/block), for VOLUME=auto: NTFS (Windows), else ext4 (Linux).
largest () {
  best=""; bestsize=0
  # shellcheck disable=SC2086 # CAPTURE_DEVICES: a list of devices
  for dev in $(blkid -c /dev/null -o device -t TYPE="$1" ${CAPTURE_DEVICES:-} 2>/dev/null); do
    size=$(cat "/sys/class/block/${dev##*/}/size" 2>/dev/null || echo 0)
    if [ "$size" -gt "$bestsize" ]; then best=$dev; bestsize=$size; fi
  done
  echo "$best"
}
pick_volume () {
  v=$(largest ntfs); [ -n "$v" ] || v=$(largest ext4)
  [ -n "$v" ] || die "no NTFS or ext4 volume found (blkid -t TYPE=ntfs / TYPE=ext4 found nothing)"
  echo "$v"
}

if [ "$VOLUME" = auto ]; then VOLUME=$(pick_volume) || exit 1; fi
[ -b "$VOLUME" ] || [ -f "$VOLUME" ] || die "$VOLUME is neither a block device nor an NTFS image file"

# ext4: wimlib's NTFS-3G mode reads NTFS only; any other volume is captured from a read-only mount, with its UNIX data.
SOURCE=$VOLUME; UNIX=""; MNT=""
if [ -b "$VOLUME" ] && [ "$(blkid -c /dev/null -o value -s TYPE "$VOLUME" 2>/dev/null)" = ext4 ]; then
  MNT=$W/volume; mkdir -p "$MNT"
  mount -t ext4 -o ro "$VOLUME" "$MNT" || die "cannot mount $VOLUME (ext4) read-only"
  trap 'umount "$MNT" 2>/dev/null; rm -rf "$W"' EXIT
  SOURCE=$MNT; UNIX=--unix-data
  say "$VOLUME is ext4: capturing its files with --unix-data (owners, modes, device nodes, xattrs)"
fi

# --- HTTP ----------------------------------------------------------------------------------------------------

# put_file FILE CONTENT_RANGE [SHA256] → prints the HTTP status (000 when the connection failed)
put_file () {
  set -- "$1" "$2" "${3:-}"
  # An empty X-Checksum-SHA256 header is not sent at all (curl drops "Name;"-less empty values).
  curl -sS -o "$W/resp" -D "$W/hdrs" -w '%{http_code}' --connect-timeout 10 --speed-limit 1024 --speed-time 60 \
    -T "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/octet-stream' -H 'Expect:' \
    -H "Content-Range: $2" -H "X-Checksum-SHA256: $3" "$URL" 2>"$W/curlerr"
}

header () { tr -d '\r' <"$1" | awk -F': *' -v h="$2" 'tolower($1) == h { v = $2 } END { print v }'; }

# server_offset [SHA256] → bytes the appliance holds for this upload, "done" when the image with that checksum
# is already catalogued (the 201 was lost), empty when the appliance cannot be reached.
server_offset () {
  code=$(curl -sS -I -o /dev/null -D "$W/head" -w '%{http_code}' --connect-timeout 10 --max-time 30 \
    -H "Authorization: Bearer $TOKEN" -H "X-Checksum-SHA256: ${1:-}" "$URL" 2>/dev/null)
  [ "$code" = 200 ] || return 0
  if [ "$(header "$W/head" upload-complete)" = 1 ]; then echo done; else header "$W/head" upload-offset; fi
}

message () { jq -r '.message // empty' "$W/resp" 2>/dev/null | head -n 1; }

# (sh has no local variables: send_chunk's are named apart from upload's.)
# send_chunk FILE START LEN TOTAL SHA: uploads bytes START..START+LEN-1 (TOTAL "*" until the last chunk),
# resuming inside the chunk after a dropped connection. Returns when the server acknowledged all of it.
send_chunk () {
  file=$1; start=$2; len=$3; total=$4; sum=$5
  from=$start; tries=0; pause=1
  while :; do
    if [ "$from" -eq $((start + len)) ]; then
      code=busy   # every byte arrived, the answer to the last one was lost: the server is verifying, ask again
    else
      if [ "$from" -eq "$start" ]; then part=$file
      else
        part=$W/rest
        dd if="$file" of="$part" bs=1048576 skip=$((from - start)) iflag=skip_bytes 2>/dev/null || die "cannot cut $file"
      fi
      code=$(put_file "$part" "bytes $from-$((start + len - 1))/$total" "$sum")
    fi
    case "$code" in
      200|201) return 0 ;;
      416)
        held=$(header "$W/hdrs" upload-offset)
        [ -n "$held" ] && [ "$held" -ge "$start" ] && [ "$held" -le $((start + len)) ] ||
          die "the appliance holds ${held:-?} bytes of $IMAGE_ID, which this capture can no longer resend: capture again"
        from=$held; continue ;;
      000|busy|408|429|500|502|503|504) ;;
      *) die "upload of $IMAGE_ID refused (HTTP $code): $(message)" ;;
    esac
    tries=$((tries + 1))
    [ "$tries" -le "$RETRIES" ] || die "upload of $IMAGE_ID failed after $RETRIES retries (HTTP $code): $(head -n 1 "$W/curlerr" 2>/dev/null)$(message)"
    say "connection problem (HTTP $code), retry $tries/$RETRIES in ${pause}s"
    sleep "$pause"; pause=$((pause * 2)); [ "$pause" -le 30 ] || pause=30
    held=$(server_offset "$sum")
    [ "$held" != done ] || return 0
    if [ -n "$held" ]; then
      [ "$held" -ge "$start" ] && [ "$held" -le $((start + len)) ] ||
        die "the appliance holds $held bytes of $IMAGE_ID, which this capture can no longer resend (or it rejected the upload): capture again"
      from=$held
      [ "$from" -lt $((start + len)) ] || [ -n "$sum" ] || return 0
    fi
  done
}

# upload SHA_SOURCE: reads the WIM on stdin CHUNK_MB at a time, always one chunk ahead so the last one is
# known (it carries the total and the SHA-256, read from the file SHA_SOURCE once it exists).
upload () {
  bs=1048576; off=0; n=0; cur=$W/c0; nxt=$W/c1
  dd of="$cur" bs=$bs count="$CHUNK_MB" iflag=fullblock 2>/dev/null
  curlen=$(wc -c <"$cur")
  [ "$curlen" -gt 0 ] || return 1   # wimcapture wrote nothing: main reports its error
  while :; do
    dd of="$nxt" bs=$bs count="$CHUNK_MB" iflag=fullblock 2>/dev/null
    nxtlen=$(wc -c <"$nxt")
    if [ "$nxtlen" -eq 0 ]; then
      # End of the WIM: wait for wimcapture's exit status and the SHA-256 of everything it wrote.
      i=0
      while { [ ! -s "$1" ] || [ ! -s "$W/wim.rc" ]; } && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
      [ -s "$W/wim.rc" ] && [ "$(cat "$W/wim.rc")" = 0 ] || return 1   # main reports wimcapture's error
      [ -s "$1" ] || die "no SHA-256 of the captured WIM"
      total=$((off + curlen))
      send_chunk "$cur" "$off" "$curlen" "$total" "$(cat "$1")"
      say "uploaded $total bytes"
      return 0
    fi
    send_chunk "$cur" "$off" "$curlen" '*' ''
    off=$((off + curlen)); n=$((n + 1))
    [ $((n % 4)) -ne 0 ] || say "uploaded $((off / 1048576)) MiB"
    t=$cur; cur=$nxt; nxt=$t; curlen=$nxtlen
  done
}

# --- capture -------------------------------------------------------------------------------------------------

say "capturing $VOLUME as image '$NAME' ($COMP, $MODE mode) → $URL"
if [ "$MODE" = file ]; then
  wimcapture "$SOURCE" "$W/capture.wim" "$NAME" --compress="$COMP" $UNIX >"$W/wim.log" 2>&1 ||
    die "wimcapture of $VOLUME failed: $(tr '\r' '\n' <"$W/wim.log" | grep -i -m1 error)"
  echo 0 >"$W/wim.rc"
  sha256sum "$W/capture.wim" | cut -d' ' -f1 >"$W/sha"
  ( SUB=1; upload "$W/sha" <"$W/capture.wim"; echo $? >"$W/up.rc" )
else
  mkfifo "$W/sumfifo" || die "mkfifo failed"
  ( sha256sum <"$W/sumfifo" | cut -d' ' -f1 >"$W/sha.tmp" && mv "$W/sha.tmp" "$W/sha" ) &
  { wimcapture "$SOURCE" - "$NAME" --pipable --compress="$COMP" $UNIX 2>"$W/wim.log"; echo $? >"$W/wim.rc"; } |
    tee "$W/sumfifo" | { SUB=1; upload "$W/sha"; echo $? >"$W/up.rc"; }
  wait
fi

# One error line: the uploader's own (it stops wimcapture with a broken pipe), else wimcapture's.
[ ! -s "$W/error" ] || die "$(cat "$W/error")"
wrc=$(cat "$W/wim.rc" 2>/dev/null || echo '?')
[ "$wrc" = 0 ] || die "wimcapture of $VOLUME failed (exit $wrc): $(tr '\r' '\n' <"$W/wim.log" | grep -i -m1 error || tail -n 1 "$W/wim.log")"
[ "$(cat "$W/up.rc" 2>/dev/null)" = 0 ] || die "upload of $IMAGE_ID did not finish"
say "done: $IMAGE_ID uploaded, verified and catalogued (sha256 $(cat "$W/sha"))"
exit 0
