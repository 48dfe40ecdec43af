#!/usr/bin/env bash
# SeaweedFS's `weed`, the S3 server of the object-store tests (scripts/lib/seaweedfs.sh).
# Usage:
#   seaweedfs.sh                                  build it (cached by version), print its bin dir
#   seaweedfs.sh serve DIR PORT ACCESS SECRET [BUCKETS]   run a server in the foreground (exec)
#   seaweedfs.sh start DIR ACCESS SECRET [BUCKETS]        start one on a free port, wait until it
#                                                         answers, print "ENDPOINT PID"
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/seaweedfs.sh"

case ${1:-} in
  "") seaweedfs_bin ;;
  serve) shift; (($# >= 4)) || die "usage: seaweedfs.sh serve DIR PORT ACCESS SECRET [BUCKETS]"; seaweedfs_serve "$@" ;;
  start) shift; (($# >= 3)) || die "usage: seaweedfs.sh start DIR ACCESS SECRET [BUCKETS]"; seaweedfs_start "$@" ;;
  *) die "unknown command '$1' (serve, start, or none to build)" ;;
esac
