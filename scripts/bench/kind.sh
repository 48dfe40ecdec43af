#!/usr/bin/env bash
# Real-node benchmark (not a test), printed as the "## Real krills on kind" section and written
# into docs/benchmarks.md (KRILL_BENCH_WRITE=0: print only):
#   - the kind cluster brought up cold (the node image built again from the cached Kubernetes
#     binaries) and warm (node image present), each up to a node that can run krill;
#   - `helm install` to every krill Ready (the real gateway's readiness probe, keeper and proxy
#     included) for fleets of KIND_SIZES krills (default "1 3 8"), medians of KIND_RUNS (default 2)
#     with the fleet uninstalled and its claims deleted between runs;
#   - each krill container's idle memory (cgroup working set: usage minus inactive file) a minute
#     after its fleet was Ready, and how many such krills the node's allocatable memory holds.
# The peer for memory (OpenClaw started directly in the same image) is in scripts/bench/image.sh.
# Uses its own kind cluster (KRILL_KIND_CLUSTER, default krill-bench) and deletes it at the end.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"
cd "$KRILL_ROOT"

SIZES=${KIND_SIZES:-1 3 8}
RUNS=${KIND_RUNS:-2}
export KRILL_KIND_CLUSTER=${KRILL_KIND_CLUSTER:-krill-bench}
NS=krill-bench
work=$(mktemp -d)
cleanup() { scripts/cluster/kind.sh down >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f\n", b - a }'; }

"$KRILL_ROOT/scripts/tools/docker.sh" privileged || die "no Docker engine that can run kind's nodes"
eval "$(scripts/dev env)"
choose_bases
build_test_images "$(KRILL_IMAGE_FROM=${KRILL_IMAGE_FROM:-worktree} image_source "$work")" \
  || die "building the images failed"

# --- the cluster, cold and warm ---------------------------------------------------------------
scripts/cluster/kind.sh down >/dev/null 2>&1 || true
node_image=$(scripts/image/kind-node.sh 2>/dev/null)
log "cold: removing the node image $node_image, then kind.sh up"
docker image rm "$node_image" >/dev/null 2>&1 || true
t0=$(now)
scripts/cluster/kind.sh up >/dev/null || die "kind.sh up (cold) failed"
cold=$(since "$t0")
scripts/cluster/kind.sh down >/dev/null
log "warm: kind.sh up with the node image present"
t0=$(now)
cluster_env=$(scripts/cluster/kind.sh up) || die "kind.sh up (warm) failed"
warm=$(since "$t0")
eval "$cluster_env"
export KUBECONFIG=$KRILL_KUBECONFIG
t0=$(now)
scripts/cluster/kind.sh load "$KRILL_IMAGE" "$KRILL_TEST_LITELLM_IMAGE" "$KRILL_TEST_STAND_IN_IMAGE"
load=$(since "$t0")

# --- helm install to all Ready ----------------------------------------------------------------
kind_fleet_values >"$work/values.yaml"
kubectl create namespace "$NS" >/dev/null
# The working set of each krill container, in MiB: what the kubelet would evict and OOM-kill by.
working_sets() {
  local pod
  for pod in $(kubectl -n "$NS" get pods -l app.kubernetes.io/component=krill -o name); do
    kubectl -n "$NS" exec "${pod#pod/}" -c krill -- sh -c "$WORKING_SET_SH"
  done
}
rows="" all_ws=()
for n in $SIZES; do
  times=()
  for run in $(seq "$RUNS"); do
    log "fleet of $n, run $run/$RUNS: helm install to all Ready"
    t0=$(now)
    helm install krill charts/krill -n "$NS" -f "$work/values.yaml" --set "replicas=$n" >/dev/null
    kubectl -n "$NS" rollout status statefulset/krill --timeout=20m >/dev/null \
      || die "the fleet of $n never became Ready"
    kubectl -n "$NS" rollout status deployment/krill-api-server --timeout=10m >/dev/null
    times+=("$(since "$t0")")
    if ((run == RUNS)); then
      sleep 60
      mapfile -t ws < <(working_sets)
      all_ws+=("${ws[@]}")
    fi
    helm uninstall krill -n "$NS" --wait >/dev/null
    kubectl -n "$NS" delete pvc --all --wait >/dev/null
    kubectl -n "$NS" delete secrets --all >/dev/null
  done
  median_time=$(printf '%s\n' "${times[@]}" | median)
  ws_median=$(printf '%s\n' "${ws[@]}" | median)
  rows+="| $n | ${times[*]} | $median_time | $(awk -v t="$median_time" -v n="$n" 'BEGIN { printf "%.1f", t / n }') | $ws_median |"$'\n'
done
per_krill=$(printf '%s\n' "${all_ws[@]}" | median)
allocatable=$(kubectl get nodes -o jsonpath='{.items[0].status.allocatable.memory}')
alloc_mib=$(awk -v m="$allocatable" 'BEGIN { sub(/Ki$/, "", m); printf "%d", m / 1024 }')
fit=$(awk -v a="$alloc_mib" -v k="$per_krill" 'BEGIN { printf "%d", a / k }')

section=$(cat <<EOF
## Real krills on kind

\`scripts/bench/kind.sh\`, $(date -u +%Y-%m-%d), $(bench_machine) (shared with other work), kind
$KIND_VERSION, node image \`$node_image\` (Kubernetes $KUBERNETES_VERSION), OpenClaw
$OPENCLAW_VERSION, images \`$KRILL_IMAGE\` and \`$KRILL_TEST_LITELLM_IMAGE\`.

| the kind cluster | seconds |
|---|---:|
| cold: node image built again from cached binaries, cluster up | $cold |
| warm: node image present, cluster up | $warm |
| loading the krill, LiteLLM and stand-in images into the node | $load |

Fleets installed with \`helm install --set replicas=N\` (Parallel pod management, the keeper and
the LiteLLM proxy included), timed to the StatefulSet and the proxy rolled out, i.e. every
gateway passing its real readiness probe; medians of $RUNS runs, fleet and claims deleted between
runs. Working set: each krill container's cgroup memory minus inactive file, a minute after the
last run's fleet was Ready (median over the fleet).

| krills | runs (s) | median (s) | s per krill | idle working set per krill (MiB) |
|---:|---|---:|---:|---:|
${rows%$'\n'}

The node's allocatable memory is $alloc_mib MiB: at the median idle working set of $per_krill MiB
it holds **$fit idle krills** (before the proxy, the keeper and the control plane's own share).
EOF
)
echo "$section"
bench_write_section "$section"
