#!/usr/bin/env bash
# Kind test phase: the cluster suite on real nodes. Builds the images the pods run (the krill
# image, the local LiteLLM proxy, the stand-in model, PostgreSQL; build_test_images in scripts/image/lib.sh),
# brings up the kind cluster (scripts/cluster/kind.sh), loads the images into its node, and runs
# `cargo test -p krill-cluster --test cluster` (and kubectl-krill's `-p krill-cli --test cli`) with
# KRILL_CLUSTER=kind and a values file that
# points the chart at the loaded images. Leaves a kind cluster it did not start running; deletes
# one it started, also when the suite fails or is interrupted.
#
# Env: KRILL_IMAGE_FROM, KRILL_IMAGE_BASES as for scripts/test/image.sh; KRILL_KIND_* as for
# scripts/cluster/kind.sh; KRILL_KIND_TEST_THREADS (default 1): tests run at once on the node.
# Last line: "P passed, F failed, N skipped"; exits non-zero on any failure.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/phase.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"
cd "$KRILL_ROOT"
phase_start kind

# Nothing here can be tested without its cluster and images: that is a failure, not zero tests.
setup_failed() { log "$1"; failed=$((failed + 1)); phase_end; exit 1; }

work=$(mktemp -d)
# A cluster somebody else started (scripts/dev up, a developer shell) is used and left running.
started_here=0
scripts/cluster/kind.sh env >/dev/null 2>&1 || started_here=1
cleanup() {
  if [[ $started_here == 1 ]]; then scripts/cluster/kind.sh down || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

start=$SECONDS
"$KRILL_ROOT/scripts/tools/docker.sh" privileged || setup_failed "no Docker engine that can run kind's nodes"
choose_bases
src=$(image_source "$work")
build_test_images "$src" || setup_failed "building the images failed"
log "images ready in $((SECONDS - start)) s: $KRILL_IMAGE $KRILL_TEST_LITELLM_IMAGE $KRILL_TEST_STAND_IN_IMAGE $KRILL_TEST_POSTGRES_IMAGE"

start=$SECONDS
cluster_env=$(scripts/cluster/kind.sh up) || setup_failed "bringing up the kind cluster failed"
eval "$cluster_env"
scripts/cluster/kind.sh load "$KRILL_IMAGE" "$KRILL_TEST_LITELLM_IMAGE" "$KRILL_TEST_STAND_IN_IMAGE" \
  "$KRILL_TEST_POSTGRES_IMAGE" \
  || setup_failed "loading the images into the kind node failed"
log "kind cluster up with the images loaded in $((SECONDS - start)) s"

# What this cluster needs rather than what a test checks, given to every test release before its
# own values: the loaded images, and CPU requests small enough that a test's krills fit beside the
# control plane on one node of a small machine (the chart's 250m per krill would leave pods Pending).
cat >"$work/kind-values.yaml" <<YAML
image: $(loaded_image "$KRILL_IMAGE")
resources:
  requests: {cpu: 20m}
snapshots:
  resources:
    requests: {cpu: 5m}
  # local-path volumes are directories on this machine's disk, so the free-space guard would
  # judge the host's disk rather than a krill's volume; the guard has tests of its own.
  minFreePercent: 1
apiServer:
  image: $(loaded_image "$KRILL_TEST_LITELLM_IMAGE")
  resources:
    requests: {cpu: 20m}
  database:
    postgres:
      image: $(loaded_image "$KRILL_TEST_POSTGRES_IMAGE")
      resources:
        requests: {cpu: 10m}
YAML
export KRILL_TEST_VALUES=$work/kind-values.yaml

out=$work/cargo.log
status=0
start=$SECONDS
log "cargo test -p krill-cluster --test cluster -p krill-cli --test cli (KRILL_CLUSTER=kind)"
KRILL_CLUSTER=kind cargo test --locked --no-fail-fast -p krill-cluster --test cluster -p krill-cli --test cli -- \
  --test-threads="${KRILL_KIND_TEST_THREADS:-1}" 2>&1 | tee "$out" || status=$?
log "suite ran in $((SECONDS - start)) s"
count_cargo "$out" "$status"

# The README's first command on this cluster: krills that answer, a table, a clear error for a
# krill that is not there. Uninstalled afterwards; the cluster stays to whoever started it.
dev_up_answers() {
  local k=(env KUBECONFIG="$KRILL_KUBECONFIG" kubectl -n krill) answer
  scripts/dev up || return 1
  for krill in krill-0 scout; do
    answer=$(scripts/dev chat "$krill" "Please write a note.") || return 1
    echo "$krill answered: $answer"
    # The stand-in's answer names the file its tool call wrote: the turn went all the way round.
    [[ $answer == *krill-stand-in.txt* ]] || { echo "unexpected answer from $krill"; return 1; }
  done
  "${k[@]}" exec krill-0 -c krill -- test -s /krill/data/workspace/krill-stand-in.txt \
    || { echo "krill-0's tool call left no file"; return 1; }
  local table; table=$(scripts/dev status) || return 1
  echo "$table"
  [[ $(grep -cE ' 2/2 +default ' <<<"$table") == 3 ]] || { echo "status does not list 3 ready krills"; return 1; }
  if scripts/dev chat nobody hi 2>"$work/nobody.err"; then echo "chat with an unknown krill succeeded"; return 1; fi
  grep -q "no krill 'nobody'.*krill-0 krill-1 scout" "$work/nobody.err" || { cat "$work/nobody.err"; return 1; }
}
undo_dev_up() {
  KUBECONFIG="$KRILL_KUBECONFIG" helm uninstall krill -n krill --wait >/dev/null 2>&1 || true
  KUBECONFIG="$KRILL_KUBECONFIG" kubectl delete namespace krill --wait=false >/dev/null 2>&1 || true
}
# chart-testing as users run it in their CI: each charts/krill/ci/*-values.yaml installed, `helm
# test`ed and uninstalled, with this cluster's images, in a namespace that also runs the stand-in
# (named-values.yaml's model).
ct_install() {
  local ns=krill-ct
  KUBECONFIG="$KRILL_KUBECONFIG" kubectl create namespace "$ns" >/dev/null || return 1
  stand_in_manifest | KUBECONFIG="$KRILL_KUBECONFIG" kubectl -n "$ns" apply -f - >/dev/null || return 1
  KUBECONFIG="$KRILL_KUBECONFIG" ct install --config ct.yaml --charts charts/krill --namespace "$ns" \
    --release-name krill --helm-extra-set-args "--values=$work/kind-values.yaml"
}
start=$SECONDS
check "ct install --config ct.yaml: every charts/krill/ci values file installs and passes helm test" ct_install
KUBECONFIG="$KRILL_KUBECONFIG" kubectl delete namespace krill-ct --wait=false >/dev/null 2>&1 || true
log "ct install ran in $((SECONDS - start)) s"

start=$SECONDS
check "scripts/dev up on kind: krills that answer, their table, an unknown krill refused" dev_up_answers
undo_dev_up
log "scripts/dev up check ran in $((SECONDS - start)) s"
phase_end
