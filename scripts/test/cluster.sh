#!/usr/bin/env bash
# Cluster test phase: builds/fetches the pinned tools, brings up the local cluster (real control
# plane, kwok-simulated nodes, CoreDNS on the host), runs the krill-cluster suite and kubectl-krill's
# (krill-cli's `cli` test binary) twice — through
# the `local` provider and through `existing` pointed at the same cluster's kubeconfig, so both
# code paths run in CI — and tears the cluster down again if this script started it.
# Last line: "P passed, F failed, N skipped"; exits non-zero on any failure.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/phase.sh"
cd "$KRILL_ROOT"
phase_start cluster

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

# Each run writes its not-run lines to a log of its own, copied into the phase's log with the
# provider in front: the same test not run under both providers is two tests not run.
run_suite() {
  local label=$1 targets=$2; shift 2
  local out; out=$(mktemp)
  local phase_log=$KRILL_NOT_RUN_LOG run_log; run_log=$(mktemp)
  log "cargo test $targets ($label)"
  local -a target_args=(); read -ra target_args <<<"$targets"   # read -a: no glob expansion
  local status=0
  env "$@" KRILL_NOT_RUN_LOG="$run_log" \
    cargo test --locked --no-fail-fast "${target_args[@]}" 2>&1 | tee "$out" || status=$?
  count_cargo "$out" "$status"
  sed "s/^/[$label] /" "$run_log" >>"$phase_log"
  rm -f "$out" "$run_log"
}

# Unit tests need no cluster: run them once, with the first provider.
# krill-cli's unit tests run in the cargo phase; here only its `cli` binary.
run_suite "KRILL_CLUSTER=local" "-p krill-cluster" KRILL_CLUSTER=local
run_suite "KRILL_CLUSTER=local" "-p krill-cli --test cli" KRILL_CLUSTER=local
run_suite "KRILL_CLUSTER=existing" "-p krill-cluster -p krill-cli --test cluster --test cli" KRILL_CLUSTER=existing KUBECONFIG="$KRILL_KUBECONFIG"
phase_end
