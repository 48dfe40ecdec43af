#!/usr/bin/env bash
# Builds etcd 3.5 from the Go module proxy. Its server module carries `replace => ../api`
# directives, so `go install` is refused; a wrapper module requiring the server builds it.
source "$(dirname "$0")/../lib/common.sh"
require_go

out=$(cached etcd "$ETCD_VERSION")
build() {
  is_done "$out" && return 0
  log "building etcd $ETCD_VERSION"
  mkdir -p "$out/wrapper" "$out/bin"
  cat >"$out/wrapper/go.mod" <<MOD
module krill.local/etcd-wrapper
go 1.23
require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  printf 'package wrapper\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n' >"$out/wrapper/tools.go"
  (cd "$out/wrapper" && go mod tidy >/dev/null && \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/bin/etcd" go.etcd.io/etcd/server/v3)
  mark_done "$out"
}
with_lock etcd build
echo "$out/bin"
