#!/usr/bin/env bash
# A PostgreSQL server for host tests without a system service: Debian's postgresql-$MAJOR and the
# libraries a minimal Debian lacks, fetched with `apt-get download` and unpacked (never installed)
# under the cache. The binaries are relocatable (share and lib dirs are found relative to bin/),
# so only the libraries need LD_LIBRARY_PATH, which the wrappers in bin/ set. Debian replaces
# point releases in place, so the pin is the major version; `version` in the cache names the
# exact one unpacked. Usage: postgresql.sh. Prints the bin directory (initdb, pg_ctl, postgres,
# psql, pg_isready).
source "$(dirname "$0")/../lib/common.sh"
command -v apt-get >/dev/null || die "PostgreSQL comes from Debian's packages here: apt-get is needed"

major=$POSTGRESQL_MAJOR
out=$(cached postgresql "$major")
# The server, its client, and the libraries postgres links that a minimal Debian may not have.
pkgs=("postgresql-$major" "postgresql-client-$major" libpq5 libicu72 libxml2 libxslt1.1 \
      libldap-2.5-0 libsasl2-2 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1)

install() {
  is_done "$out" && return 0
  log "fetching Debian's postgresql-$major (apt-get download; unpacked under $out)"
  rm -rf "$out"; mkdir -p "$out/debs" "$out/root" "$out/bin"
  if ! (cd "$out/debs" && apt-get download "${pkgs[@]}" >&2); then
    # A fresh machine has no package lists yet.
    apt-get update -qq >&2 || die "apt-get update failed (root and a Debian mirror are needed)"
    (cd "$out/debs" && apt-get download "${pkgs[@]}" >&2) || die "apt-get download ${pkgs[*]} failed"
  fi
  local deb
  for deb in "$out"/debs/*.deb; do dpkg-deb -x "$deb" "$out/root"; done
  local real="$out/root/usr/lib/postgresql/$major/bin" libs="$out/root/usr/lib/x86_64-linux-gnu"
  [[ -x $real/postgres ]] || die "postgresql-$major did not unpack a postgres binary into $real"
  local missing
  missing=$(LD_LIBRARY_PATH=$libs ldd "$real/postgres" | awk '/not found/ { print $1 }')
  [[ -z $missing ]] || die "postgres needs libraries neither the host nor the unpacked packages have: $missing"
  local tool
  for tool in initdb pg_ctl postgres psql pg_isready createdb; do
    # exec keeps the real binary's location, from which PostgreSQL finds its share and lib dirs.
    # shellcheck disable=SC2016 # the wrapper expands LD_LIBRARY_PATH when it runs, not now
    printf '#!/bin/sh\nLD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} exec %s "$@"\n' \
      "$libs" "$real/$tool" >"$out/bin/$tool"
    chmod +x "$out/bin/$tool"
  done
  dpkg-deb -f "$out/debs/postgresql-${major}_"*.deb Version >"$out/version"
  rm -rf "$out/debs"
  "$out/bin/postgres" --version >&2
  mark_done "$out"
}
with_lock postgresql install
echo "$out/bin"
