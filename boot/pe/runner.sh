#!/bin/sh
# The task-sequence runner of the netboot Linux PE (busybox ash + curl + jq).
# Reads netboot.url / netboot.token from the kernel command line, fetches the deployment's task sequence
# (GET /pe/v1/task-sequence), runs its steps in order and reports each one (POST /pe/v1/status), its log
# (POST /pe/v1/log) and the outcome (POST /pe/v1/result). Contract: src/deployments/types.ts.
# Step implementations live in steps.sh; documentation with examples in README.md.
#
# Kernel command line:
#   netboot.url=http://10.0.0.1      appliance base URL (required)
#   netboot.token=TOKEN              one-time deployment token (required)
#   netboot.deployment=ID            deployment id (logged only)
#   netboot.onfail=poweroff|reboot|shell   after a failed sequence (default poweroff after 30 s)
#   netboot.onsuccess=reboot|poweroff|shell after a successful one (default reboot)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
RUN=/run/netboot
LOG=$RUN/runner.log
mkdir -p "$RUN" /mnt/target
: > "$LOG"
echo 0 > "$RUN/log.sent"

param () {  # value of NAME=... on the kernel command line (for tests: NETBOOT_CMDLINE overrides /proc/cmdline)
  for w in ${NETBOOT_CMDLINE:-$(cat /proc/cmdline)}; do
    case "$w" in "$1="*) echo "${w#*=}"; return 0 ;; esac
  done
  return 1
}
log () { echo "netboot: $*" | tee -a "$LOG"; }

URL=$(param netboot.url); URL=${URL%/}
TOKEN=$(param netboot.token)
DEPLOYMENT=$(param netboot.deployment)
export URL TOKEN RUN LOG

api () {  # api PATH CONTENT-TYPE: POST stdin to the appliance; retried, never fatal
  curl -sS -o /dev/null -m 30 --retry 4 --retry-delay 2 --retry-connrefused \
    -H "Authorization: Bearer $TOKEN" -H "Content-Type: $2" --data-binary @- "$URL$1" \
    || echo "netboot: warning: POST $1 failed" >&2
}
status () {  # status STEP STATE [PROGRESS] [MESSAGE]
  jq -cn --argjson step "$1" --arg state "$2" --arg p "${3:-}" --arg m "${4:-}" \
    '{step: $step, state: $state} + (if $p != "" then {progress: ($p|tonumber)} else {} end)
     + (if $m != "" then {message: $m} else {} end)' | api /pe/v1/status application/json
}
send_log () {  # POST what the log gained since the last call (text/plain)
  sent=$(cat "$RUN/log.sent"); size=$(wc -c < "$LOG")
  [ "$size" -gt "$sent" ] || return 0
  tail -c +$((sent + 1)) "$LOG" | head -c $((size - sent)) | api /pe/v1/log 'text/plain; charset=utf-8'
  echo "$size" > "$RUN/log.sent"
}
result () {  # result succeeded|failed [ERROR]
  send_log
  jq -cn --arg r "$1" --arg e "${2:-}" --arg tail "$(tail -n 40 "$LOG")" \
    '{result: $r, logTail: $tail} + (if $e != "" then {error: $e} else {} end)' | api /pe/v1/result application/json
}
finish () {  # finish ACTION: what the machine does once the sequence is over
  umount_target
  sync
  case "$1" in
    shell) log "staying up (a shell is open on the console)"; exit 0 ;;
    poweroff) log "powering off in ${2:-0} s"; sleep "${2:-0}"; poweroff -f ;;
    *) log "rebooting in ${2:-0} s"; sleep "${2:-0}"; reboot -f ;;
  esac
}

secure_boot_var () {  # the SecureBoot variable's value: 1, 0, or nothing (BIOS, no variable). Also used by steps-boot.sh.
  # 4 attribute bytes, then the value; read whole: efivarfs files cannot seek, so od -j fails on them
  od -An -tu1 /sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c 2>/dev/null | awk '{print $5; exit}'
}

firmware () {  # BIOS, or UEFI with its Secure Boot state
  [ -d /sys/firmware/efi ] || { echo BIOS; return; }
  case "$(secure_boot_var)" in 1) echo "UEFI, Secure Boot on" ;; 0) echo "UEFI, Secure Boot off" ;; *) echo "UEFI" ;; esac
}

. /netboot/steps.sh

if [ -z "$URL" ] || [ -z "$TOKEN" ]; then
  log "error: netboot.url and netboot.token must be on the kernel command line (got: $(cat /proc/cmdline))"
  exit 2
fi
log "deployment ${DEPLOYMENT:-?} from $URL"
log "firmware: $(firmware)"

# The task sequence: retry for about a minute (the NIC or the appliance may still be coming up).
TS=$RUN/task-sequence.json
n=0
until curl -fsS -m 30 -H "Authorization: Bearer $TOKEN" -o "$TS" "$URL/pe/v1/task-sequence" && jq -e '.steps|type=="array"' "$TS" >/dev/null; do
  n=$((n + 1))
  if [ $n -ge 12 ]; then
    log "error: cannot fetch the task sequence from $URL/pe/v1/task-sequence"
    result failed "cannot fetch the task sequence"
    finish "$(param netboot.onfail || echo poweroff)" 30
  fi
  log "task sequence not available yet (attempt $n), retrying in 5 s"
  sleep 5
done
count=$(jq '.steps|length' "$TS")
log "task sequence '$(jq -r '.name // .taskSequenceId' "$TS")': $count steps"

# The task sequence variables (and built-ins MAC, UUID, SERIAL, ...) are exported to every step.
jq -r '.variables // {} | to_entries[] | select(.key|test("^[A-Za-z_][A-Za-z0-9_]*$")) | "export \(.key)=\(.value|@sh)"' "$TS" > "$RUN/vars"
. "$RUN/vars"

i=0
while [ $i -lt "$count" ]; do
  jq -c ".steps[$i]" "$TS" > "$RUN/step.json"
  idx=$(jq -r ".index // $i" "$RUN/step.json")
  type=$(jq -r '.type' "$RUN/step.json")
  label=$(jq -r '.name // .type' "$RUN/step.json")
  log "step $idx ($type): $label"
  status "$idx" start
  rm -f "$RUN/error"
  if [ "$type" = reboot ]; then
    status "$idx" end "" "rebooting"
    i=$((i + 1))
    [ $i -lt "$count" ] && log "steps after a reboot step do not run in the PE ($((count - i)) skipped)"
    result succeeded
    finish reboot 2
  fi
  # Run the step in a subshell so `set -e`-style exits stay contained; its output goes to console + log.
  ( run_step "$type" "$idx" "$RUN/step.json" ) 2>&1 | tee -a "$LOG"
  if [ -s "$RUN/error" ] || [ ! -f "$RUN/step.ok" ]; then
    msg=$(cat "$RUN/error" 2>/dev/null); msg=${msg:-"step $idx ($type) failed"}
    rm -f "$RUN/step.ok"
    if [ "$(jq -r '.continueOnError // false' "$RUN/step.json")" = true ]; then
      log "step $idx failed, continuing (continueOnError): $msg"
      status "$idx" error "" "$msg (continueOnError)"
    else
      log "error: step $idx ($type) failed: $msg"
      status "$idx" error "" "$msg"
      result failed "step $idx ($label): $msg"
      finish "$(param netboot.onfail || echo poweroff)" 30
    fi
  else
    rm -f "$RUN/step.ok"
    status "$idx" end
  fi
  send_log
  i=$((i + 1))
done

log "task sequence complete"
result succeeded
finish "$(param netboot.onsuccess || echo reboot)" 3
