#!/usr/bin/env bash
# SeaweedFS's `weed`, the S3 server of the object-store tests (scripts/lib/seaweedfs.sh).
# Usage:
#   seaweedfs.sh                                  build it (cached by version), print its bin dir
#   seaweedfs.sh serve DIR PORT ACCESS SECRET          run a server in the foreground (exec)
#   seaweedfs.sh bucket ENDPOINT ACCESS SECRET NAME    create a bucket; fails until the server is ready
#   seaweedfs.sh start DIR ACCESS SECRET [BUCKET...]   start one on a free port, wait until it
#                                                      answers, create the buckets, print "ENDPOINT PID"
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/seaweedfs.sh"

case ${1:-} in
  "") seaweedfs_bin ;;
  serve) shift; (($# == 4)) || die "usage: seaweedfs.sh serve DIR PORT ACCESS SECRET"; seaweedfs_serve "$@" ;;
  bucket) shift; (($# == 4)) || die "usage: seaweedfs.sh bucket ENDPOINT ACCESS SECRET NAME"; seaweedfs_bucket "$@" ;;
  start) shift; (($# >= 3)) || die "usage: seaweedfs.sh start DIR ACCESS SECRET [BUCKET...]"; seaweedfs_start "$@" ;;
  *) die "unknown command '$1' (serve, bucket, start, or none to build)" ;;
esac
