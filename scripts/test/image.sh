#!/usr/bin/env bash
# Image tests: builds the krill image from a clean clone of HEAD (as CI would: committed files
# only, no claw.py submodule) through scripts/image/build.sh, builds the two test-only images
# (LiteLLM proxy, stand-in model server), then runs `cargo test -p krill-image-tests` against real
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

case ${KRILL_IMAGE_BASES:-auto} in
  local) use_local_bases ;;
  upstream) ;;
  auto)
    if ! docker image inspect ubuntu:24.04 >/dev/null 2>&1 \
       && ! timeout 60 docker pull -q ubuntu:24.04 >/dev/null 2>&1; then
      log "no registry reachable: building on local base images"
      use_local_bases
    fi ;;
  *) die "KRILL_IMAGE_BASES must be auto, local or upstream" ;;
esac

src=$KRILL_ROOT
if [[ ${KRILL_IMAGE_FROM:-clone} == clone ]]; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  git clone -q --no-hardlinks "$KRILL_ROOT" "$work/krill"
  src=$work/krill
  log "building from a clean clone of $(git -C "$src" rev-parse --short HEAD) (uncommitted changes are not in it)"
fi

builds_failed=0
image=$("$src/scripts/image/build.sh") || { log "building the krill image failed"; builds_failed=1; }
litellm_image="krill-test-litellm:$LITELLM_VERSION"
stand_in_image="krill-test-stand-in:$(KRILL_ROOT=$src workspace_version)"
image_build "$src/harness/tests/image/images/litellm/Dockerfile" "$src" "$litellm_image" -- \
  --build-arg "LITELLM_VERSION=$LITELLM_VERSION" || { log "building $litellm_image failed"; builds_failed=1; }
image_build "$src/harness/tests/image/images/stand-in/Dockerfile" "$src" "$stand_in_image" \
  || { log "building $stand_in_image failed"; builds_failed=1; }
if ((builds_failed)); then failed=1; phase_end; exit 1; fi
log "image size: $(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')"

export KRILL_IMAGE=$image KRILL_TEST_LITELLM_IMAGE=$litellm_image KRILL_TEST_STAND_IN_IMAGE=$stand_in_image
out=$(mktemp)
status=0
# The tests run against this work tree's test code and the image built above.
(cd "$KRILL_ROOT" && cargo test --locked --no-fail-fast -p krill-image-tests -- --test-threads="${KRILL_IMAGE_TEST_THREADS:-2}") \
  2>&1 | tee "$out" || status=$?
count_cargo "$out" "$status"
rm -f "$out"
phase_end
