#!/bin/sh
# Builds the Node compile cache that `krill run` copies into a new pod's /tmp
# (harness/helper/src/compile_cache.rs says why). Runs as root in the image's final stage, from a
# bind mount, so neither this script nor anything the gateway writes lands in a layer except the
# cache itself.
#
# The gateway is started once the way a krill starts it: the image's OpenClaw and Node, UID 1000,
# no extra Node flags, a config like the chart's, TMPDIR pointing at a scratch directory. Node's
# cache keys must come out as they will in a pod, so nothing here may change them: not the user,
# not NODE_OPTIONS, not the OpenClaw files. Whatever the gateway compiled until /readyz said ready
# is kept at $1 (default /opt/krill/node-compile-cache).
set -eu
seed=${1:-/opt/krill/node-compile-cache}
port=28789
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/tmp" "$work/home" "$work/data/state" "$work/data/workspace" "$seed"
cat >"$work/openclaw.json" <<EOF
{
  gateway: { mode: "local", bind: "loopback", port: $port, auth: { mode: "token" },
             http: { endpoints: { chatCompletions: { enabled: true } } } },
  agents: { defaults: { model: { primary: "proxy/seed" }, workspace: "$work/data/workspace",
                        heartbeat: { every: "0m" } } },
  models: { catalogRefresh: { enabled: false },
            providers: { proxy: { baseUrl: "http://127.0.0.1:9/v1", apiKey: "unused",
                                  api: "openai-completions", models: [{ id: "seed", name: "seed" }] } } },
  update: { checkOnStart: false },
}
EOF
chown -R 1000:1000 "$work"

setpriv --reuid=1000 --regid=1000 --clear-groups \
  env -i PATH="$PATH" HOME="$work/home" TMPDIR="$work/tmp" NODE_ENV=production \
    OPENCLAW_CONFIG_PATH="$work/openclaw.json" OPENCLAW_STATE_DIR="$work/data/state" \
    OPENCLAW_GATEWAY_TOKEN=seed OPENCLAW_SUPERVISOR_MODE=external \
    XDG_CONFIG_HOME="$work/data/.config" \
  openclaw gateway run --port "$port" --bind loopback >"$work/gateway.log" 2>&1 &
gateway=$!

# No curl in the image: Node asks, for up to five minutes (a loaded build machine).
if ! node -e '
  const until = Date.now() + 300000;
  (async () => {
    while (Date.now() < until) {
      try {
        const r = await fetch("http://127.0.0.1:" + process.argv[1] + "/readyz");
        if ((await r.text()).includes("\"ready\":true")) process.exit(0);
      } catch {}
      await new Promise((r) => setTimeout(r, 500));
    }
    process.exit(1);
  })();' "$port"; then
  cat "$work/gateway.log" >&2
  echo "krill image: the gateway never became ready while building the compile cache (log above)" >&2
  exit 1
fi
kill -TERM "$gateway"
wait "$gateway" || true
# OpenClaw also writes to /tmp itself, whatever TMPDIR says (its state locks and its log): none of
# that may stay in the image, and UID 1000 must own nothing outside its volumes (image tests).
rm -rf /tmp/openclaw /tmp/openclaw-state-locks-1000 /tmp/.openclaw-terminal-staging-1000
left=$(find / -xdev -user 1000 -not -path "$work" -not -path "$work/*" \
  -not -path /home/krill -not -path '/home/krill/*' -not -path '/krill/*' 2>/dev/null || true)
if [ -n "$left" ]; then
  echo "krill image: the gateway left files owned by UID 1000 outside its volumes:" >&2
  echo "$left" >&2
  exit 1
fi

if [ -d "$work/tmp/node-compile-cache" ]; then
  cp -R "$work/tmp/node-compile-cache/." "$seed/"
  chown -R root:root "$seed"
  chmod -R a+rX,go-w "$seed"
  echo "krill image: compile cache seed: $(find "$seed" -type f | wc -l) files, $(du -sh "$seed" | cut -f1)"
else
  # An OpenClaw that stopped enabling the cache: the image still works, krills just start as
  # slowly as OpenClaw does (the image test says so).
  echo "krill image: warning: the gateway left no node-compile-cache in its TMPDIR; no seed" >&2
fi
