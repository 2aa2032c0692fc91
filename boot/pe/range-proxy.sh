#!/bin/sh
# One connection of the PE's loopback range proxy (run by `busybox nc -ll -p PORT -e` for each connection).
# httpfs2 mounts the image through it: httpfs2 only understands headers spelled "Content-Length" and
# "Accept-Ranges" (it compares case-sensitively; Node/fastify send them lower-case) and cannot send the
# deployment's Bearer token. So httpfs2 talks to this script on 127.0.0.1, and the script fetches each
# requested byte range from $PROXY_UPSTREAM with curl, resuming a range from where it stopped when the
# connection drops (up to 20 tries), then answers with the range. FUSE reads are small (4–128 KiB), so the
# proxy fetches whole aligned blocks of $PROXY_BLOCK bytes (4 MiB) and keeps the last few in RAM: one HTTP
# request per block instead of one per read.
# Environment: PROXY_UPSTREAM (image URL), TOKEN, RUN (state dir).
CR=$(printf '\r')
tmp=$RUN/proxy.$$
BLOCK=${PROXY_BLOCK:-4194304}
KEEP=${PROXY_KEEP_BLOCKS:-6}
CACHE=$RUN/proxy.cache
mkdir -p "$CACHE"
size_of () {  # total size of the upstream file, from Content-Range of a one-byte range (HEAD may be absent)
  [ -s "$RUN/proxy.size" ] && { cat "$RUN/proxy.size"; return; }
  s=$(curl -sS -m 30 --retry 5 --retry-connrefused -H "Authorization: Bearer $TOKEN" -r 0-0 -D - -o /dev/null "$PROXY_UPSTREAM" \
    | tr -d '\r' | awk 'tolower($1)=="content-range:"{n=split($NF,a,"/"); print a[2]}' | tail -1)
  echo "$s" > "$RUN/proxy.size"; echo "$s"
}
fetch_range () {  # fetch_range FROM TO OUT → OUT holds exactly TO-FROM+1 bytes of the upstream file
  : > "$3"; want=$(($2 - $1 + 1)); n=0
  while :; do
    got=$(wc -c < "$3")
    [ "$got" -ge "$want" ] && return 0
    curl -sS -m 300 --connect-timeout 10 -H "Authorization: Bearer $TOKEN" -r "$(($1 + got))-$2" "$PROXY_UPSTREAM" >> "$3" 2>>"$RUN/proxy.err"
    n=$((n + 1))
    [ $n -ge 20 ] && return 1
    now=$(wc -c < "$3")
    [ "$now" -lt "$want" ] && { echo "range $1-$2 interrupted at $(($1 + now)), resuming" >> "$RUN/proxy.err"; sleep 1; }
  done
}
block () {  # block N → path of cached block N (fetched if missing; older blocks evicted)
  b=$CACHE/$1
  if [ ! -f "$b" ]; then
    from=$(($1 * BLOCK)); to=$((from + BLOCK - 1)); [ "$to" -ge "$size" ] && to=$((size - 1))
    fetch_range "$from" "$to" "$b.$$" || { rm -f "$b.$$"; return 1; }
    mv "$b.$$" "$b"
    ls -t "$CACHE" | grep -v '\.' | tail -n +$((KEEP + 1)) | while read -r old; do rm -f "$CACHE/$old"; done
  fi
  echo "$b"
}
serve_range () {  # serve_range FROM TO → the bytes on stdout, from the cached blocks
  : > "$tmp"; pos=$1
  while [ "$pos" -le "$2" ]; do
    n=$((pos / BLOCK)); off=$((pos - n * BLOCK))
    end=$(((n + 1) * BLOCK - 1)); [ "$end" -gt "$2" ] && end=$2
    f=$(block "$n") || return 1
    tail -c +$((off + 1)) "$f" | head -c $((end - pos + 1)) >> "$tmp"
    pos=$((end + 1))
  done
}
while IFS= read -r req; do
  req=${req%"$CR"}; [ -z "$req" ] && continue
  method=${req%% *}; range=""
  while IFS= read -r h; do
    h=${h%"$CR"}; [ -z "$h" ] && break
    case "$h" in [Rr][Aa][Nn][Gg][Ee]:*) range=${h#*=} ;; esac
  done
  size=$(size_of)
  case "$size" in ''|*[!0-9]*) printf 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'; exit 0 ;; esac
  if [ "$method" = HEAD ] || [ -z "$range" ]; then
    printf 'HTTP/1.1 200 OK\r\nContent-Length: %s\r\nAccept-Ranges: bytes\r\nConnection: keep-alive\r\n\r\n' "$size"
    [ "$method" = HEAD ] && continue
    range="0-$((size - 1))"
  fi
  from=${range%%-*}; to=${range#*-}
  [ -z "$to" ] && to=$((size - 1)); [ "$to" -ge "$size" ] && to=$((size - 1))
  if ! serve_range "$from" "$to"; then
    printf 'HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 0\r\n\r\n'; rm -f "$tmp"; exit 0
  fi
  printf 'HTTP/1.1 206 Partial Content\r\nContent-Length: %s\r\nContent-Range: bytes %s-%s/%s\r\nAccept-Ranges: bytes\r\nConnection: keep-alive\r\n\r\n' \
    "$((to - from + 1))" "$from" "$to" "$size"
  cat "$tmp"
done
rm -f "$tmp"
