#!/usr/bin/env bash
# Installs the npm packages pinned in benches/node-peers/package-lock.json
# (the `ws` package: the Node side of the WebSocket benchmark and of the
# Autobahn runs) into target/node-peers/node_modules, with `npm ci`; does
# nothing when that exact lock is already installed there. The scripts that
# use it (benches/node-ws-echo.js, benches/autobahn/node-client.js) load `ws`
# from there, or from $NODELIKE_NODE_PEERS/node_modules.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
dest="${NODELIKE_NODE_PEERS:-$root/target/node-peers}"
if [ -f "$dest/node_modules/ws/package.json" ] && cmp -s "$here/package-lock.json" "$dest/package-lock.json"; then
  exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm is missing: it installs the ws package (apt-get install -y nodejs npm)" >&2; exit 1; }
echo "installing the Node peers (ws, pinned in benches/node-peers/package-lock.json) into $dest with npm ci" >&2
mkdir -p "$dest"
cp "$here/package.json" "$here/package-lock.json" "$dest/"
(cd "$dest" && npm ci --no-audit --no-fund --loglevel=error >&2)
