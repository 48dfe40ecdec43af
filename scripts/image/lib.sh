# Shared by the image scripts and the test phases that need images: a BuildKit-capable docker CLI,
# the build arguments every krill image build passes, and building the images the tests run.
# Sourced after scripts/lib/common.sh, never executed.

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

# choose_bases: BASE_IMAGE / RUST_IMAGE for KRILL_IMAGE_BASES (docs/image.md): `upstream` keeps
# the Dockerfiles' registry images, `local` uses images made here, `auto` (default) upstream when
# ubuntu:24.04 can be had, else local.
choose_bases() {
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
}

# image_source WORKDIR: prints the tree the images are built from. KRILL_IMAGE_FROM=clone
# (default, as CI) clones HEAD into WORKDIR, so only committed files go in; `worktree` builds this
# work tree as it is. The caller removes WORKDIR.
image_source() {
  local work=$1
  case ${KRILL_IMAGE_FROM:-clone} in
    worktree) echo "$KRILL_ROOT" ;;
    clone)
      git clone -q --no-hardlinks "$KRILL_ROOT" "$work/krill" >&2
      log "building from a clean clone of $(git -C "$work/krill" rev-parse --short HEAD) (uncommitted changes are not in it)"
      echo "$work/krill" ;;
    *) die "KRILL_IMAGE_FROM must be clone or worktree" ;;
  esac
}

# build_test_images SRC: builds, from the tree SRC, the krill image (SRC's scripts/image/build.sh)
# and the test-only images of harness/tests/image/images/ (the LiteLLM proxy, the stand-in model
# server, PostgreSQL from Debian's package), then exports KRILL_IMAGE, KRILL_TEST_LITELLM_IMAGE,
# KRILL_TEST_STAND_IN_IMAGE and KRILL_TEST_POSTGRES_IMAGE.
# BuildKit caches every step by content, so a warm call rebuilds nothing. Tries all three and
# fails if any failed.
build_test_images() {
  local src=$1 failed=0 image litellm stand_in postgres
  image=$("$src/scripts/image/build.sh") || { log "building the krill image failed"; failed=1; }
  litellm="krill-test-litellm:$LITELLM_VERSION"
  stand_in="krill-test-stand-in:$(KRILL_ROOT=$src workspace_version)"
  image_build "$src/harness/tests/image/images/litellm/Dockerfile" "$src" "$litellm" -- \
    --build-arg "LITELLM_VERSION=$LITELLM_VERSION" || { log "building $litellm failed"; failed=1; }
  image_build "$src/harness/tests/image/images/stand-in/Dockerfile" "$src" "$stand_in" \
    || { log "building $stand_in failed"; failed=1; }
  postgres="krill-test-postgres:$POSTGRESQL_MAJOR"
  image_build "$src/harness/tests/image/images/postgres/Dockerfile" "$src" "$postgres" -- \
    --build-arg "POSTGRESQL_MAJOR=$POSTGRESQL_MAJOR" || { log "building $postgres failed"; failed=1; }
  ((failed == 0)) || return 1
  export KRILL_IMAGE=$image KRILL_TEST_LITELLM_IMAGE=$litellm KRILL_TEST_STAND_IN_IMAGE=$stand_in \
    KRILL_TEST_POSTGRES_IMAGE=$postgres
}

# loaded_image IMAGE: the chart's image value for IMAGE as loaded into a kind node: never pulled,
# so a missing image fails at once instead of retrying a registry.
loaded_image() {
  echo "{repository: ${1%:*}, tag: \"${1##*:}\", pullPolicy: Never}"
}

# stand_in_manifest: the stand-in model's Deployment and Service
# (harness/tests/image/images/stand-in/kubernetes.yaml) with the image build_test_images exported.
stand_in_manifest() {
  sed "s|image: IMAGE|image: $KRILL_TEST_STAND_IN_IMAGE|" \
    "$KRILL_ROOT/harness/tests/image/images/stand-in/kubernetes.yaml"
}
