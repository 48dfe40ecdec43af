#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io if dockerd is missing and starts
# dockerd in the background when nothing is listening. Needs root (or sudo) the first time.
source "$(dirname "$0")/../lib/common.sh"

sudo_() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

docker info >/dev/null 2>&1 && exit 0
if ! command -v dockerd >/dev/null; then
  log "installing docker.io from Debian's archive"
  sudo_ apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq docker.io >&2
fi
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: $KRILL_CACHE/dockerd.log)"
  sudo_ sh -c "nohup dockerd >'$KRILL_CACHE/dockerd.log' 2>&1 &"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info >/dev/null 2>&1 || die "dockerd did not come up; see $KRILL_CACHE/dockerd.log"
