#!/usr/bin/env bash
# Image benchmarks, printed as the "## Image" section and written into docs/benchmarks.md
# (KRILL_BENCH_WRITE=0: print only):
#   - size of the krill image, per component, and compressed (what a node pulls);
#   - cold start to /readyz through `krill run`, against the peer in the same run: the same
#     image's OpenClaw started directly with an equivalent hand-written config (the ratio is
#     what the helper and its volume preparation cost);
#   - idle memory (the container's cgroup working set, BENCH_IDLE seconds after ready, default 30)
#     of both;
#   - `docker stop` (SIGTERM through tini to OpenClaw) and a warm rebuild with nothing changed.
# Env: KRILL_IMAGE (default krill:<workspace version>), BENCH_RUNS (default 3).
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"
"$KRILL_ROOT/scripts/tools/docker.sh"

image=${KRILL_IMAGE:-krill:$(workspace_version)}
runs=${BENCH_RUNS:-3}
docker image inspect "$image" >/dev/null 2>&1 || die "$image is not built: run scripts/image/build.sh first"
work=$(mktemp -d)
# start_ready runs in command substitutions (subshells), so what it creates is found by label.
label="dev.krill.bench=image-$$"
cleanup() {
  docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1
  docker volume ls -q --filter "label=$label" | xargs -r docker volume rm -f >/dev/null 2>&1
  rm -rf "$work"
}
trap cleanup EXIT

mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1e6 }'; }
now() { date +%s.%N; }

# --- size ------------------------------------------------------------------------------------
size=$(docker image inspect -f '{{.Size}}' "$image")
log "compressing $image to measure its pull size"
compressed=$(docker save "$image" | gzip -1 | wc -c)
# Size per component, measured on the files themselves.
components=$(docker run --rm --entrypoint sh "$image" -c 'du -sb /usr/local/bin/node \
  /usr/local/lib/node_modules/npm /opt/openclaw /usr/local/bin/krill /usr/lib/python3*' 2>/dev/null \
  | awk '{ printf "| `%s` | %.1f MB |\n", $2, $1 / 1e6 }')
base_size=$(docker image inspect -f '{{.Size}}' \
  "$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.base.name"}}' "$image")" 2>/dev/null || echo 0)

# --- start-up: krill run vs OpenClaw started directly in the same image ----------------------
# shellcheck disable=SC2054  # the commas separate mount options, not array elements
tmpfs=(--tmpfs /tmp:mode=1777 --tmpfs /home/krill:uid=1000,gid=1000 --tmpfs /krill/run:uid=1000,gid=1000)
# Both get the chart's default memory limit (2Gi); krill run also learns it as the chart's
# downward API tells it, and sizes V8's heap from it, which the peer (OpenClaw as shipped) does not.
envs=(--memory 2g -e KRILL_MEMORY_LIMIT_MIB=2048 -e KRILL_NAME=krill-0
      -e OPENCLAW_API_BASE=http://127.0.0.1:9/v1 -e OPENCLAW_API_KEY=bench
      -e OPENCLAW_MODEL=bench -e OPENCLAW_GATEWAY_TOKEN=bench-token)
mkdir -p "$work/config"
cat >"$work/config/openclaw.json" <<'EOF'
{
  gateway: { mode: "local", bind: "lan", port: 18789, auth: { mode: "token" } },
  agents: { defaults: { model: { primary: "proxy/bench" }, workspace: "/krill/data/workspace",
                        heartbeat: { every: "0m" } } },
  models: { catalogRefresh: { enabled: false },
            providers: { proxy: { baseUrl: "${OPENCLAW_API_BASE}", apiKey: "${OPENCLAW_API_KEY}",
                                  api: "openai-completions", models: [{ id: "bench", name: "bench" }] } } },
  update: { checkOnStart: false },
}
EOF
chmod -R a+rX "$work"

# start_ready NAME docker-run-args... -> seconds from `docker run` to /readyz "ready":true
start_ready() {
  local name=$1; shift
  local volume="$name-data"
  docker volume create --label "$label" "$volume" >/dev/null
  local t0; t0=$(now)
  docker run -d --name "$name" --label "$label" --read-only --cap-drop ALL "${tmpfs[@]}" -v "$volume:/krill/data" \
    -p 127.0.0.1::18789 "${envs[@]}" "$@" >/dev/null
  local port; port=$(docker port "$name" 18789/tcp | head -1 | sed 's/.*://')
  for _ in $(seq 1200); do
    if curl -fs "http://127.0.0.1:$port/readyz" 2>/dev/null | grep -q '"ready":true'; then
      awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'; return 0
    fi
    [[ $(docker inspect -f '{{.State.Running}}' "$name") == true ]] || break
    sleep 0.2
  done
  docker logs "$name" >&2; die "$name never became ready"
}

stop_seconds() {
  local t0; t0=$(now)
  docker stop -t 30 "$1" >/dev/null
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.2f\n", b - a }'
}

idle_mib() { sleep "${BENCH_IDLE:-30}"; docker exec "$1" sh -c "$WORKING_SET_SH"; }
krill_times=() peer_times=() stop_times=() exit_codes=() krill_mem=() peer_mem=()
for i in $(seq "$runs"); do
  log "start-up run $i/$runs"
  krill_times+=("$(start_ready "krill-bench-$$-$i" "$image")")
  krill_mem+=("$(idle_mib "krill-bench-$$-$i")")
  stop_times+=("$(stop_seconds "krill-bench-$$-$i")")
  exit_codes+=("$(docker inspect -f '{{.State.ExitCode}}' "krill-bench-$$-$i")")
  peer_times+=("$(start_ready "krill-bench-peer-$$-$i" -v "$work/config:/bench:ro" \
    -e OPENCLAW_CONFIG_PATH=/bench/openclaw.json --entrypoint tini "$image" -- \
    openclaw gateway run --port 18789 --bind lan)")
  peer_mem+=("$(idle_mib "krill-bench-peer-$$-$i")")
  docker stop -t 30 "krill-bench-peer-$$-$i" >/dev/null
done
krill_idle=$(printf '%s\n' "${krill_mem[@]}" | median)
peer_idle=$(printf '%s\n' "${peer_mem[@]}" | median)
mem_ratio=$(awk -v a="$krill_idle" -v b="$peer_idle" 'BEGIN { printf "%.2f", a / b }')
krill_start=$(printf '%s\n' "${krill_times[@]}" | median)
peer_start=$(printf '%s\n' "${peer_times[@]}" | median)
stop=$(printf '%s\n' "${stop_times[@]}" | median)
ratio=$(awk -v a="$krill_start" -v b="$peer_start" 'BEGIN { printf "%.2f", a / b }')

# --- warm rebuild ----------------------------------------------------------------------------
log "warm rebuild (nothing changed)"
bases=()
docker image inspect ubuntu:24.04 >/dev/null 2>&1 || bases=(--local-bases)
# Once to catch up with the work tree, then timed with nothing changed.
"$KRILL_ROOT/scripts/image/build.sh" "${bases[@]}" >/dev/null 2>"$work/build.log" || { tail "$work/build.log"; die "build failed"; }
t0=$(now)
"$KRILL_ROOT/scripts/image/build.sh" "${bases[@]}" >/dev/null 2>"$work/build.log" || { tail "$work/build.log"; die "rebuild failed"; }
rebuild=$(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')

# --- write the section -----------------------------------------------------------------------
version=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.version"}}' "$image")
base=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.base.name"}}' "$image")
section=$(cat <<EOF
## Image

\`scripts/bench/image.sh\`, $(date -u +%Y-%m-%d), $(bench_machine) (shared), Docker $(docker version -f '{{.Server.Version}}'),
image \`$image\` (version $version) on \`$base\`. Medians of $runs runs, krill and peer
alternated; both with a 2 GiB memory limit (the chart's default) and the same config.

| measure | krill | peer (same run) | ratio |
|---|---|---|---|
| cold start to \`/readyz\` ready, empty \`/tmp\` | ${krill_start} s via \`krill run\` | ${peer_start} s, OpenClaw started directly in the same image | ${ratio} (peer / krill: $(awk -v a="$peer_start" -v b="$krill_start" 'BEGIN { printf "%.2f", a / b }')x) |
| idle memory (cgroup working set, ${BENCH_IDLE:-30} s after ready) | ${krill_idle} MiB | ${peer_idle} MiB | ${mem_ratio} |
| idle krills in 8 GiB at that working set | $(awk -v m="$krill_idle" 'BEGIN { printf "%d", 8192 / m }') | $(awk -v m="$peer_idle" 'BEGIN { printf "%d", 8192 / m }') | — |
| \`docker stop -t 30\` (SIGTERM via tini) | ${stop} s, exit codes ${exit_codes[*]} | — | — |
| warm rebuild, nothing changed | ${rebuild} s | — | — |
| image size (uncompressed) | $(mb "$size") | upstream OpenClaw image: not pullable here, see below | — |
| image size (gzip, ≈ pull size) | $(mb "$compressed") | — | — |

| component | size |
|---|---|
| base image | $(mb "$base_size") |
$components

Upstream reference (not measured in this run: no container registry is reachable from our
machines): openclaw/openclaw#22491 reports the official image at 3.03 GB uncompressed (2.53 GB after
its multi-stage change, Feb 2026) and #85301 its node_modules alone at about 1.6 GB (May 2026).
Against 2.53 GB the krill image is $(awk -v s="$size" 'BEGIN { printf "%.2f", s / 2.53e9 }')× the size. The difference: no
browser, build toolchain or bundled extras, OpenClaw installed from the npm registry with
production dependencies only, source maps and type declarations dropped.
EOF
)
echo "$section"
bench_write_section "$section"
