#!/usr/bin/env bash
# Builds native/udp-batch, the recvmmsg reader of the DHCP ports (src/net/udp-batch.ts), with node-gyp against this
# Node's own headers. Linux only: elsewhere the DHCP service reads with Node's dgram and says so at start.
# Needs make, g++ and python3 (scripts/install-deps.sh installs them). A failed build fails `npm run build`: an
# appliance that silently fell back would be slower in a boot storm without anyone knowing why.
set -euo pipefail
cd "$(dirname "$0")/../native/udp-batch"
if [ "$(uname -s)" != Linux ]; then
  echo "build-native: native/udp-batch is Linux-only; the DHCP service will read with dgram"
  exit 0
fi
# npm sets npm_config_node_gyp for its scripts; run by hand, use npm's bundled node-gyp.
gyp="${npm_config_node_gyp:-$(npm root -g)/npm/node_modules/node-gyp/bin/node-gyp.js}"
args=()
# The headers of the installed Node (nodesource and Debian's libnode-dev put them here): no download.
if [ -f /usr/include/node/node_api.h ]; then args+=(--nodedir=/usr); fi
node "$gyp" rebuild "${args[@]}" --loglevel=warn
