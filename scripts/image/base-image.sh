#!/usr/bin/env bash
# No container registry is reachable from krill's build machines, so the images' base is made
# locally: debootstrap a minimal Debian and `docker import` it. Users build on ubuntu:24.04 (the
# Dockerfile's default BASE_IMAGE); this image only stands in for it where nothing can be pulled.
# Its twin, rust-builder.sh, makes the Rust builder image on top of it. Prints the image reference.
source "$(dirname "$0")/../lib/common.sh"
"$KRILL_ROOT/scripts/tools/docker.sh"

ref="krill-base:$BASE_SUITE"

# The Debian mirror this machine's apt already uses (KRILL_DEBIAN_MIRROR overrides it).
debian_mirror() {
  if [[ -n ${KRILL_DEBIAN_MIRROR:-} ]]; then echo "$KRILL_DEBIAN_MIRROR"; return; fi
  local uri="" f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    uri=$(awk '/^deb / && $2 ~ /debian\/?$/ { print $2; exit } /^URIs:/ && $2 ~ /debian\/?$/ { print $2; exit }' "$f")
    [[ -n $uri ]] && break
  done
  [[ -n $uri ]] || die "no Debian mirror found in /etc/apt sources: set KRILL_DEBIAN_MIRROR"
  echo "$uri"
}
build() {
  docker image inspect "$ref" >/dev/null 2>&1 && return 0
  command -v debootstrap >/dev/null || { apt-get update -qq >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2; }
  local root; root=$(mktemp -d)
  log "debootstrap $BASE_SUITE into $root (cold: a few minutes)"
  debootstrap --variant=minbase --include=ca-certificates "$BASE_SUITE" "$root" "$(debian_mirror)" >&2
  # Debian's docker images drop these; so do we, to keep the base small.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' - "$ref" >&2
  rm -rf "$root"
}
with_lock base-image build
echo "$ref"
