#!/usr/bin/env bash
# Where no container registry is reachable, `rust:<ver>-bookworm` cannot be pulled and rustup's dist
# server is out of reach too. This makes an equivalent builder image from the local base image plus
# the host's own Rust toolchain (binaries and the host target's std only, no docs), tagged by rustc
# version so a toolchain bump builds a new one. Users never need this: the Dockerfile's default
# RUST_IMAGE is the official rust image. Prints the image reference.
source "$(dirname "$0")/../lib/common.sh"

command -v rustc >/dev/null || die "rustc not found: install Rust (https://rustup.rs) to build the local builder image"
rust_version=$(rustc --version | awk '{print $2}')
sysroot=$(rustc --print sysroot)
ref="krill-rust:$rust_version"
base=$("$KRILL_ROOT/scripts/image/base-image.sh")

build() {
  docker image inspect "$ref" >/dev/null 2>&1 && return 0
  [[ -x $sysroot/bin/cargo ]] || die "no cargo next to rustc in $sysroot"
  log "building $ref from $base and the host toolchain in $sysroot"
  local ctx; ctx=$(mktemp -d)
  # CARGO_HOME/RUSTUP_HOME/PATH mirror the official rust image, so the Dockerfile's cache mounts
  # (/usr/local/cargo/registry) work the same with either builder.
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $base
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
      gcc libc6-dev make pkg-config ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
COPY rust/ /usr/local/rust/
ENV CARGO_HOME=/usr/local/cargo PATH=/usr/local/cargo/bin:/usr/local/rust/bin:\$PATH
RUN mkdir -p /usr/local/cargo/bin && rustc --version && cargo --version
DOCKERFILE
  # Stream the context as a tar so the ~600 MB toolchain is not copied to disk first.
  tar -c -C "$ctx" Dockerfile -C "$sysroot" --transform 's,^\(bin\|lib\|libexec\),rust/\1,' \
      bin lib libexec | docker build -q -t "$ref" - >&2
  rm -rf "$ctx"
}
with_lock rust-builder build
echo "$ref"
