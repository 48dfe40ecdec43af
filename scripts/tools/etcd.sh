#!/usr/bin/env bash
# Builds etcd from the Go module proxy (its server module carries `replace => ../api` directives,
# so `go install` refuses it; a wrapper module does not). Usage: etcd.sh. Prints the bin directory.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/gobuild.sh"

go_wrapper_build etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 etcd=go.etcd.io/etcd/server/v3
