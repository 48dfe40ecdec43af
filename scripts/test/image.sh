#!/usr/bin/env bash
# Image tests: builds the krill image from a clean clone of HEAD (as CI would: committed files
# only, no claw.py submodule) through scripts/image/build.sh, builds the two test-only images
# (LiteLLM proxy, stand-in model server; build_test_images in scripts/image/lib.sh), then runs `cargo test -p krill-image-tests` against real
# Docker. BuildKit caches every step by content, so a warm run rebuilds nothing.
#
# Env:
#   KRILL_IMAGE_FROM=clone|worktree   build from a clean clone of HEAD (default) or this work tree
#   KRILL_IMAGE_BASES=auto|local|upstream
#                     upstream: ubuntu:24.04 + rust:1.95-bookworm from a registry; local: images
#                     made here (scripts/image/base-image.sh, scripts/image/rust-builder.sh);
#                     auto (default): upstream when ubuntu:24.04 can be had, else local
# Last line: "P passed, F failed, N skipped".
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/phase.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"
phase_start image

# Without Docker or the images nothing here can be tested: that is a failure, not zero tests.
"$KRILL_ROOT/scripts/tools/docker.sh" || { failed=1; phase_end; exit 1; }

choose_bases
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
src=$(image_source "$work")
build_test_images "$src" || { failed=1; phase_end; exit 1; }
log "image size: $(docker image inspect -f '{{.Size}}' "$KRILL_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

out=$(mktemp)
status=0
# The tests run against this work tree's test code and the image built above.
(cd "$KRILL_ROOT" && cargo test --locked --no-fail-fast -p krill-image-tests -- --test-threads="${KRILL_IMAGE_TEST_THREADS:-2}") \
  2>&1 | tee "$out" || status=$?
count_cargo "$out" "$status"
rm -f "$out"
phase_end
