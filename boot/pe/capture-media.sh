#!/bin/sh
# capture-media.sh: what the PE's /init runs when the kernel command line has netboot.mode=capture (the ISO
# made by `netboot media build --capture`, or a PXE menu entry that boots the PE that way).
# Kernel command line:
#   netboot.url=http://appliance[:port]   the appliance (required)
#   netboot.capture_token=T               http.captureToken of the appliance (required)
#   netboot.image=ID                      image id (default capture-YYYYMMDD-HHMMSS, from the PE's clock)
#   netboot.volume=DEV|auto               volume to capture (default auto: the largest NTFS partition)
#   netboot.name=NAME                     image name in the WIM (default: the image id)
#   netboot.compression=none|xpress|lzx|lzms   (default lzx)
#   netboot.poweroff=0                    stay up after a successful capture (default: power off)
# Prints "netboot-capture: result: ok IMAGE_ID" or "netboot-capture: result: failed: …" on the console.
set -u

param () {  # param NAME: value of NAME=... on the kernel command line (empty when absent)
  for w in $(cat /proc/cmdline); do
    case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
  done
  return 0
}

HERE=$(dirname "$0")
url=$(param netboot.url); token=$(param netboot.capture_token)
image=$(param netboot.image); volume=$(param netboot.volume); name=$(param netboot.name)
comp=$(param netboot.compression); off=$(param netboot.poweroff)
[ -n "$image" ] || image="capture-$(date -u +%Y%m%d-%H%M%S)"
[ -n "$volume" ] || volume=auto
[ -n "$name" ] || name=$image
[ -n "$comp" ] || comp=lzx

fail () {
  echo "netboot-capture: result: failed: $*"
  exit 1
}
[ -n "$url" ] || fail "no netboot.url= on the kernel command line"
[ -n "$token" ] || fail "no netboot.capture_token= on the kernel command line"

echo "netboot-capture: capturing volume $volume as image $image to ${url%/}"
if sh "$HERE/capture.sh" "$volume" "$image" "${url%/}/pe/v1/capture/$image" "$token" "$name" "$comp"; then
  echo "netboot-capture: result: ok $image"
else
  fail "capture.sh exited with $? (its error is above)"
fi
if [ "$off" != 0 ]; then
  echo "netboot-capture: powering off"
  sync
  sleep 2
  poweroff -f
fi
exit 0
