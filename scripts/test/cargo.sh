#!/usr/bin/env bash
# Cargo test phase: every crate of the workspace but the cluster and image suites, which need a
# cluster or Docker and have their own phases (cluster.sh, image.sh); of krill-cli only the unit
# tests (its `cli` test binary runs against the cluster in cluster.sh and kind.sh). Needs the test environment
# from scripts/dev (eval "$(scripts/dev env)"). Last line: "P passed, F failed, N skipped".
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/phase.sh"
cd "$KRILL_ROOT"
phase_start cargo

out=$(mktemp); trap 'rm -f "$out"' EXIT
status=0
cargo test --locked --no-fail-fast --workspace --exclude krill-cluster --exclude krill-image-tests \
  --exclude krill-cli 2>&1 | tee "$out" || status=$?
cargo test --locked --no-fail-fast -p krill-cli --bins 2>&1 | tee -a "$out" || status=$?
count_cargo "$out" "$status"
phase_end
