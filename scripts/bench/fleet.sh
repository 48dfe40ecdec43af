#!/usr/bin/env bash
# Fleet benchmark (not a test): installs fleets of krills on the local cluster's simulated nodes
# and measures the time from `helm install` to every krill pod Ready, with the anonymous fleet's
# podManagementPolicy Parallel vs OrderedReady, plus a fleet of named krills (one StatefulSet
# each), and counts the API objects each krill costs. Prints the "## Cluster" section and writes
# it into docs/benchmarks.md.
#
#   scripts/bench/fleet.sh                 sizes 10 100 500
#   FLEET_SIZES="10 100" scripts/bench/fleet.sh
#   FLEET_NAMED_MAX=100                    largest named fleet (default 500)
#   KRILL_BENCH_WRITE=0                    print the section only
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"
cd "$KRILL_ROOT"

SIZES=${FLEET_SIZES:-10 100 500}
NAMED_MAX=${FLEET_NAMED_MAX:-500}
CHART="$KRILL_ROOT/charts/krill"
[[ -f $CHART/Chart.yaml ]] || die "chart not found at $CHART"

K8S_BIN=$(scripts/tools/kubernetes.sh)
HELM_BIN=$(scripts/tools/go-tools.sh helm)
export PATH="$K8S_BIN:$HELM_BIN:$PATH"

# Enough simulated nodes for the largest fleet (kwok nodes take 110 pods each).
largest=0; for n in $SIZES; do (( n > largest )) && largest=$n; done
export KRILL_LOCAL_NODES=$(( largest / 100 + 2 ))
export KWOK_WORKDIR=${KWOK_WORKDIR:-$KRILL_CACHE/state/kwok}
started_here=0
scripts/cluster/local.sh env >/dev/null 2>&1 || started_here=1
WORK=$(mktemp -d)
cleanup() {
  [[ $started_here == 1 ]] && scripts/cluster/local.sh down || true
  rm -rf "$WORK"
}
trap cleanup EXIT
eval "$(scripts/cluster/local.sh up)"
# local.sh up only adds nodes when there are fewer than asked for; make sure a running cluster
# has enough for this run too.
have=$(kubectl --kubeconfig "$KRILL_KUBECONFIG" get nodes --no-headers | wc -l)
if (( have < KRILL_LOCAL_NODES )); then
  "$(scripts/tools/go-tools.sh kwokctl)/kwokctl" scale node --name "${KRILL_LOCAL_CLUSTER:-krill-test}" \
    --replicas "$KRILL_LOCAL_NODES" >&2
fi
k() { kubectl --kubeconfig "$KRILL_KUBECONFIG" "$@"; }

# The chart's values schema decides whether podManagementPolicy is a value; if it is not (yet),
# a post-renderer rewrites the rendered StatefulSets instead, so the comparison still runs.
policy_args() {
  local policy=$1
  if grep -q '^podManagementPolicy:' "$CHART/values.yaml"; then
    echo "--set podManagementPolicy=$policy"
  else
    cat >"$WORK/policy-$policy.sh" <<SH
#!/bin/sh
exec sed 's/podManagementPolicy: .*/podManagementPolicy: $policy/'
SH
    chmod +x "$WORK/policy-$policy.sh"
    echo "--post-renderer $WORK/policy-$policy.sh"
  fi
}

# Every namespaced object a user would list (events excluded: they are a by-product), plus the
# PersistentVolumes bound to the namespace's claims.
count_objects() {
  local ns=$1 kinds
  kinds=$(k api-resources --namespaced --verbs=list -o name | grep -vE '^events' | paste -sd, -)
  local namespaced; namespaced=$(k get "$kinds" -n "$ns" --no-headers --ignore-not-found 2>/dev/null | wc -l)
  local pvs; pvs=$(k get pv -o jsonpath="{range .items[?(@.spec.claimRef.namespace==\"$ns\")]}x{\"\\n\"}{end}" | grep -c x || true)
  echo $(( namespaced + pvs ))
}

ready_pods() {
  k get pods -n "$1" -l app.kubernetes.io/component=krill \
    -o jsonpath='{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}' \
    | grep -c True || true
}

# run_one KIND N POLICY -> "seconds objects"
run_one() {
  local kind=$1 n=$2 policy=$3
  local ns; ns="krill-bench-$kind-$n-${policy,,}"
  k delete namespace "$ns" --ignore-not-found --wait >/dev/null
  k create namespace "$ns" >/dev/null
  local values="$WORK/values-$kind-$n.yaml"
  if [[ $kind == named ]]; then
    { echo "replicas: 0"; echo "krills:"; for i in $(seq -w 1 "$n"); do echo "  k$i: {}"; done; } >"$values"
  else
    echo "replicas: $n" >"$values"
  fi
  local start end
  start=$(date +%s.%N)
  # shellcheck disable=SC2046
  helm install krill "$CHART" -n "$ns" --kubeconfig "$KRILL_KUBECONFIG" -f "$values" \
    $(policy_args "$policy") >/dev/null
  local deadline=$(( $(date +%s) + 900 ))
  while (( $(ready_pods "$ns") < n )); do
    (( $(date +%s) < deadline )) || { log "$kind $n $policy: not Ready after 15 min"; echo "timeout -"; return 0; }
    sleep 0.2
  done
  end=$(date +%s.%N)
  local objects; objects=$(count_objects "$ns")
  helm uninstall krill -n "$ns" --kubeconfig "$KRILL_KUBECONFIG" >/dev/null
  k delete namespace "$ns" --wait=false >/dev/null
  printf '%.1f %s\n' "$(echo "$end - $start" | awk '{print $1 - $3}')" "$objects"
}

# median_of RUNS KIND N POLICY -> "seconds objects": small fleets are quick and noisy on a shared
# machine, so they are run several times; big ones once.
median_of() {
  local runs=$1; shift
  local -a secs=(); local objects=-
  for _ in $(seq 1 "$runs"); do
    read -r s objects < <(run_one "$@")
    secs+=("$s")
  done
  printf '%s %s\n' "$(printf '%s\n' "${secs[@]}" | median)" "$objects"
}

# The first install on a fresh cluster also warms caches (discovery, schema, informers): not measured.
log "warm-up install (not measured)"
run_one fleet 10 Parallel >/dev/null

rows=()
for n in $SIZES; do
  runs=1; (( n <= 100 )) && runs=${FLEET_RUNS:-3}
  log "anonymous fleet of $n, Parallel (x$runs)"
  read -r par objects < <(median_of "$runs" fleet "$n" Parallel)
  log "anonymous fleet of $n, OrderedReady (x$runs)"
  read -r ord _ < <(median_of "$runs" fleet "$n" OrderedReady)
  named="-" named_objects="-"
  if (( n <= NAMED_MAX )); then
    log "named fleet of $n (x$runs)"
    read -r named named_objects < <(median_of "$runs" named "$n" Parallel)
  fi
  per() { awk -v o="$1" -v n="$n" 'BEGIN{ if (o ~ /^[0-9]+$/) printf "%.2f", o/n; else print "-" }'; }
  ratio=$(awk -v a="$ord" -v b="$par" 'BEGIN{ if (a+0 > 0 && b+0 > 0) printf "%.2fx", a/b; else print "-" }')
  rows+=("| $n | $par | $ord | $ratio | $named | $objects ($(per "$objects")) | $named_objects ($(per "$named_objects")) |")
  echo "${rows[-1]}"
done

# Read the running cluster's own config: it may have been started by someone else.
qps_note="components at their default client QPS limits"
grep -q -- '--kube-api-qps' "$KWOK_WORKDIR/clusters/${KRILL_LOCAL_CLUSTER:-krill-test}/kwok.yaml" 2>/dev/null &&
  qps_note="components started with \`--disable-qps-limits\`"
section=$(cat <<MD
## Cluster

\`scripts/bench/fleet.sh\` on the local cluster: real kube-apiserver, kube-controller-manager and
kube-scheduler $KUBERNETES_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION simulated nodes with the
fast pod stages and the volume stages, $qps_note. $(bench_machine) at the end,
shared with other jobs, $(date -u +%Y-%m-%d).

Time is from \`helm install\` to every krill pod Ready, in seconds (median of ${FLEET_RUNS:-3} runs up to 100
krills, one run above; a discarded warm-up install first). The anonymous fleet is
\`replicas: N\` (one StatefulSet) with podManagementPolicy Parallel and OrderedReady (the ratio
is OrderedReady / Parallel, same run); the named fleet is N entries in \`krills:\` (N
StatefulSets of one pod). Objects: every namespaced API object in the release's namespace after
the fleet is Ready (events excluded) plus the bound PersistentVolumes; per krill in brackets.
Goal: 100 krills Ready within 60 s.

| krills | Parallel (s) | OrderedReady (s) | OrderedReady / Parallel | named fleet (s) | objects, anonymous (per krill) | objects, named (per krill) |
|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")
MD
)
echo "$section"
bench_write_section "$section"
