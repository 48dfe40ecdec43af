#!/usr/bin/env bash
# Builds the krill image from this checkout and tags it krill:<version> (the workspace version,
# which is also the chart's appVersion) and krill:latest. Prints the versioned reference.
#
#   scripts/image/build.sh                 # on ubuntu:24.04 and rust:1.95-bookworm (pulled)
#   scripts/image/build.sh --local-bases   # no registry: krill-base + a builder from the host's Rust
#   scripts/image/build.sh -- --no-cache   # anything after -- goes to `docker build`
#
# Env: BASE_IMAGE / RUST_IMAGE override the base images; KRILL_BUILD_CA_BUNDLE names a CA bundle
# for TLS-intercepting proxies (default: the host's bundle, when it exists), handed to the build as
# a secret so it never lands in a layer.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"

usage() {
  cat <<'USAGE'
usage: scripts/image/build.sh [--local-bases] [-- DOCKER_BUILD_ARGS...]

Builds the krill image from this checkout as krill:<version> and krill:latest; prints the first.

  --local-bases   no registry: build on krill-base and a Rust builder made from the host's toolchain
  -- ARGS...      passed on to `docker build` (e.g. -- --no-cache)

BASE_IMAGE / RUST_IMAGE override the base images (default ubuntu:24.04, rust:1.95-bookworm);
KRILL_BUILD_CA_BUNDLE names a CA bundle for TLS-intercepting proxies (default: the host's).
USAGE
}

local_bases=false
extra=()
while (($#)); do
  case $1 in
    --local-bases) local_bases=true ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
  shift
done

# One version for the image tag, the chart's appVersion and `krill --version`.
version=$(workspace_version)
[[ -f $KRILL_ROOT/Cargo.lock ]] || die "$KRILL_ROOT/Cargo.lock is missing; the helper is built with --locked"
"$KRILL_ROOT/scripts/tools/docker.sh"
$local_bases && use_local_bases

registry=${NPM_REGISTRY:-$(npm config get registry 2>/dev/null || true)}
[[ -n $registry ]] || die "no npm registry: install npm or set NPM_REGISTRY to your registry's URL"
args=(--build-arg "VERSION=$version"
      --build-arg "NPM_REGISTRY=$registry"
      --build-arg "NODE_VERSION=$NODE_VERSION"
      --build-arg "OPENCLAW_VERSION=$OPENCLAW_VERSION")
if revision=$(git -C "$KRILL_ROOT" rev-parse --short=12 HEAD 2>/dev/null); then
  args+=(--build-arg "REVISION=$revision")
fi

log "building krill:$version (base ${BASE_IMAGE:-ubuntu:24.04}, rust ${RUST_IMAGE:-rust:1.95-bookworm})"
image_build "$KRILL_ROOT/image/Dockerfile" "$KRILL_ROOT" "krill:$version" krill:latest -- \
  "${args[@]}" "${extra[@]}"
echo "krill:$version"
