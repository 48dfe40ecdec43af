#!/usr/bin/env bash
# No container registry is reachable from krill's build machines, so the images' base is made
# locally: debootstrap a minimal Debian and `docker import` it. Users build on ubuntu:24.04 (the
# Dockerfile's default BASE_IMAGE); this image only stands in for it where nothing can be pulled.
# Prints the image reference.
source "$(dirname "$0")/../lib/common.sh"
"$KRILL_ROOT/scripts/tools/docker.sh"

ref="krill-base:$BASE_SUITE"
build() {
  docker image inspect "$ref" >/dev/null 2>&1 && return 0
  command -v debootstrap >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
  local root; root=$(mktemp -d)
  log "debootstrap $BASE_SUITE into $root (cold: a few minutes)"
  debootstrap --variant=minbase --include=ca-certificates "$BASE_SUITE" "$root" http://deb.debian.org/debian >&2
  # Debian's docker images drop these; so do we, to keep the base small.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$ref" >&2
  rm -rf "$root"
}
with_lock base-image build
echo "$ref"
