#!/usr/bin/env bash
# Cluster test phase: builds/fetches the pinned tools, brings up the local cluster (real control
# plane, kwok-simulated nodes, CoreDNS on the host), runs the krill-cluster suite twice — through
# the `local` provider and through `existing` pointed at the same cluster's kubeconfig, so both
# code paths run in CI — and tears the cluster down again if this script started it.
# Last line: `N passed, N failed`; exits non-zero on any failure.
source "$(dirname "$0")/../lib/common.sh"
cd "$KRILL_ROOT"

K8S_BIN=$(scripts/tools/kubernetes.sh)
scripts/tools/etcd.sh >/dev/null
scripts/tools/go-tools.sh kwok kwokctl coredns >/dev/null
HELM_BIN=$(scripts/tools/go-tools.sh helm)

# A cluster somebody else started (scripts/dev up, a developer shell) is used and left running.
started_here=0
if ! scripts/cluster/local.sh env >/dev/null 2>&1; then
  started_here=1
fi
cleanup() { [[ $started_here == 1 ]] && scripts/cluster/local.sh down || true; }
trap cleanup EXIT
cluster_env=$(scripts/cluster/local.sh up)
eval "$cluster_env"
export KRILL_TOOLS_PATH="$HELM_BIN:$K8S_BIN${KRILL_TOOLS_PATH:+:$KRILL_TOOLS_PATH}"

passed=0 failed=0 not_run=()
run_suite() {
  local label=$1 targets=$2; shift 2
  local out; out=$(mktemp)
  log "cargo test -p krill-cluster $targets ($label)"
  # --show-output: passing tests' "NOT RUN: ..." notes must reach the log, not vanish.
  local -a target_args=(); read -ra target_args <<<"$targets"   # read -a: no glob expansion
  if env "$@" cargo test --locked --no-fail-fast -p krill-cluster "${target_args[@]}" -- --show-output 2>&1 | tee "$out"; then :; fi
  local p f
  read -r p f < <(cargo_counts "$out")
  # A build failure prints no result line at all: that is a failure, not zero tests.
  if ! grep -qE '^test result:' "$out" || grep -qE '^error(\[E[0-9]+\])?:' "$out"; then f=$(( ${f:-0} + 1 )); fi
  passed=$(( passed + ${p:-0} )); failed=$(( failed + ${f:-0} ))
  while IFS= read -r line; do not_run+=("[$label] ${line#*NOT RUN: }"); done < <(grep -o 'NOT RUN: .*' "$out" | sort -u)
  rm -f "$out"
}

# Unit tests need no cluster: run them once, with the first provider.
run_suite "KRILL_CLUSTER=local" "" KRILL_CLUSTER=local
run_suite "KRILL_CLUSTER=existing" "--test *" KRILL_CLUSTER=existing KUBECONFIG="$KRILL_KUBECONFIG"

for line in "${not_run[@]}"; do
  echo "NOT RUN: $line (the test counted above checked only that the nodes are simulated)"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
