# Shared by the image scripts: a BuildKit-capable docker CLI and the build arguments every krill
# image build passes. Sourced after scripts/lib/common.sh, never executed.

# BuildKit is required (cache and secret mounts). Docker >= 23 needs the buildx plugin for it;
# older CLIs (Debian bookworm's docker.io 20.10) have it built in behind DOCKER_BUILDKIT=1.
buildkit_docker() {
  if docker buildx version >/dev/null 2>&1; then echo docker; return; fi
  local cli major
  while read -r cli; do
    major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1) || continue
    [[ $major =~ ^[0-9]+$ ]] && ((major < 23)) && { echo "$cli"; return; }
  done < <(type -ap docker)
  die "BuildKit is needed to build krill's images: install the docker buildx plugin (docker-buildx)"
}

# image_build DOCKERFILE CONTEXT TAG... -- EXTRA_ARGS...: one BuildKit build with the CA bundle
# secret (for TLS-intercepting proxies; never stored in a layer) and the base images chosen by
# BASE_IMAGE / RUST_IMAGE when set.
image_build() {
  local dockerfile=$1 context=$2; shift 2
  local tags=() args=()
  while (($#)) && [[ $1 != -- ]]; do tags+=(-t "$1"); shift; done
  [[ ${1:-} == -- ]] && shift
  [[ -n ${BASE_IMAGE:-} ]] && args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  [[ -n ${RUST_IMAGE:-} ]] && args+=(--build-arg "RUST_IMAGE=$RUST_IMAGE")
  local ca_bundle=${KRILL_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
  [[ -f $ca_bundle ]] && args+=(--secret "id=ca-bundle,src=$ca_bundle")
  DOCKER_BUILDKIT=1 "$(buildkit_docker)" build --progress=plain -f "$dockerfile" \
    "${tags[@]}" "${args[@]}" "$@" "$context" >&2
}

# Points BASE_IMAGE and RUST_IMAGE at images made on this machine (no registry needed).
use_local_bases() {
  BASE_IMAGE=${BASE_IMAGE:-$("$KRILL_ROOT/scripts/image/base-image.sh")}
  RUST_IMAGE=${RUST_IMAGE:-$("$KRILL_ROOT/scripts/image/rust-builder.sh")}
  export BASE_IMAGE RUST_IMAGE
}

workspace_version() {
  local version
  version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$KRILL_ROOT/Cargo.toml")
  [[ -n $version ]] || die "no version under [workspace.package] in $KRILL_ROOT/Cargo.toml"
  echo "$version"
}
