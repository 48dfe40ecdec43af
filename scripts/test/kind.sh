#!/usr/bin/env bash
# Kind test phase: the cluster suite on real nodes. Builds the images the pods run (the krill
# image, the local LiteLLM proxy, the stand-in model, PostgreSQL; build_test_images in scripts/image/lib.sh),
# brings up the kind cluster (scripts/cluster/kind.sh), loads the images into its node, and runs
# `cargo test -p krill-cluster --test cluster` with KRILL_CLUSTER=kind and a values file that
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
# own values: the loaded images, never pulled (Never: a missing image fails at once instead of
# retrying a registry), and CPU requests small enough that a test's krills fit beside the control
# plane on one node of a small machine (the chart's 250m per krill would leave pods Pending).
image_ref() { echo "repository: ${1%:*}, tag: \"${1##*:}\", pullPolicy: Never"; }
cat >"$work/kind-values.yaml" <<YAML
image: {$(image_ref "$KRILL_IMAGE")}
resources:
  requests: {cpu: 20m}
snapshots:
  resources:
    requests: {cpu: 5m}
apiServer:
  image: {$(image_ref "$KRILL_TEST_LITELLM_IMAGE")}
  resources:
    requests: {cpu: 20m}
  database:
    postgres:
      image: {$(image_ref "$KRILL_TEST_POSTGRES_IMAGE")}
      resources:
        requests: {cpu: 10m}
YAML
export KRILL_TEST_VALUES=$work/kind-values.yaml

out=$work/cargo.log
status=0
start=$SECONDS
log "cargo test -p krill-cluster --test cluster (KRILL_CLUSTER=kind)"
KRILL_CLUSTER=kind cargo test --locked --no-fail-fast -p krill-cluster --test cluster -- \
  --test-threads="${KRILL_KIND_TEST_THREADS:-1}" 2>&1 | tee "$out" || status=$?
log "suite ran in $((SECONDS - start)) s"
count_cargo "$out" "$status"
phase_end
