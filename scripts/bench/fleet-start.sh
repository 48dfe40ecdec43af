#!/usr/bin/env bash
# Fleet start on real nodes (not a test), printed as the "## Fleet start on kind" section and
# written into docs/benchmarks.md (KRILL_BENCH_WRITE=0: print only): `helm install` of a fleet of
# FLEET_SIZE krills (default 6) to every krill Ready (the real gateway's readiness probe), in up to
# four variants run alternately FLEET_RUNS times each (default 2), medians:
#   - pod management Parallel (the chart's default) and/or OrderedReady (one start at a time),
#     FLEET_POLICIES (default "Parallel OrderedReady");
#   - with the image's compile cache seed, or without (KRILL_COMPILE_CACHE_SEED pointing nowhere,
#     i.e. a gateway that compiles OpenClaw from scratch as it does when started directly).
# Each install gets a namespace of its own, deleted with its claims afterwards. Uses the kind
# cluster of scripts/cluster/kind.sh (KRILL_KIND_CLUSTER), brought up when absent and left
# running; the images are built from the work tree and loaded first.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"
cd "$KRILL_ROOT"

SIZE=${FLEET_SIZE:-6}
RUNS=${FLEET_RUNS:-2}
read -ra POLICIES <<<"${FLEET_POLICIES:-Parallel OrderedReady}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f\n", b - a }'; }

"$KRILL_ROOT/scripts/tools/docker.sh" privileged || die "no Docker engine that can run kind's nodes"
eval "$(scripts/dev env)"
if [[ -z ${FLEET_SKIP_BUILD:-} ]]; then
  choose_bases
  build_test_images "$(KRILL_IMAGE_FROM=${KRILL_IMAGE_FROM:-worktree} image_source "$work")" \
    || die "building the images failed"
fi
eval "$(scripts/cluster/kind.sh up)"
export KUBECONFIG=$KRILL_KUBECONFIG
scripts/cluster/kind.sh load "$KRILL_IMAGE" "$KRILL_TEST_LITELLM_IMAGE" >/dev/null

kind_fleet_values >"$work/values.yaml"

# install POLICY SEED(on|off) -> seconds from `helm install` to every krill Ready
install() {
  local policy=$1 seed=$2 ns; ns=krill-fleet-$RANDOM
  local -a extra=()
  [[ $seed == off ]] && extra=(--set 'env[0].name=KRILL_COMPILE_CACHE_SEED' --set 'env[0].value=/nonexistent')
  kubectl create namespace "$ns" >/dev/null
  local t0; t0=$(now)
  helm install krill charts/krill -n "$ns" -f "$work/values.yaml" --set "replicas=$SIZE" \
    --set "podManagementPolicy=$policy" "${extra[@]}" >/dev/null
  kubectl -n "$ns" rollout status statefulset/krill --timeout=30m >/dev/null \
    || die "the fleet of $SIZE ($policy, seed $seed) never became Ready"
  since "$t0"
  # What the krills said about the seed, as a check that the variant is the one intended.
  kubectl -n "$ns" logs krill-0 -c krill | grep -m1 'compile cache' >&2 || true
  helm uninstall krill -n "$ns" --wait >/dev/null
  kubectl delete namespace "$ns" --wait >/dev/null
}

declare -A times=()
variants=()
for policy in "${POLICIES[@]}"; do variants+=("$policy on" "$policy off"); done
for run in $(seq "$RUNS"); do
  for v in "${variants[@]}"; do
    read -r policy seed <<<"$v"
    log "run $run/$RUNS: $SIZE krills, $policy, compile cache seed $seed"
    times[$v]+="$(install "$policy" "$seed") "
  done
done

median_of() { tr ' ' '\n' <<<"${times[$1]}" | grep . | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rows=""
for policy in "${POLICIES[@]}"; do
  on=$(median_of "$policy on") off=$(median_of "$policy off")
  rows+="| $policy | on | ${times["$policy on"]}| $on | $(ratio "$off" "$on") |"$'\n'
  rows+="| $policy | off | ${times["$policy off"]}| $off | |"$'\n'
done

section=$(cat <<EOF
## Fleet start on kind

\`scripts/bench/fleet-start.sh\`, $(date -u +%Y-%m-%d), $(bench_machine) at the end (shared with
other work), one kind node, kind $KIND_VERSION, Kubernetes $KUBERNETES_VERSION, OpenClaw
$OPENCLAW_VERSION, image \`$KRILL_IMAGE\`. \`helm install\` of $SIZE krills (keeper and LiteLLM
proxy included) to the StatefulSet rolled out, every gateway passing its real readiness probe;
the variants alternated, medians of $RUNS runs, each in a fresh namespace.

| pod management | compile cache seed | runs (s) | median (s) | seed off / on |
|---|---|---|---:|---:|
${rows%$'\n'}
EOF
)
echo "$section"
bench_write_section "$section"
