#!/usr/bin/env bash
# Makes sure a Docker engine answers: installs Debian's docker.io if dockerd is missing and starts
# dockerd in the background when nothing is listening. Needs root (or sudo) the first time.
#
#   docker.sh             a Docker engine answers
#   docker.sh privileged  it also runs `docker run --privileged` containers (kind's nodes)
#
# Some hosts (sandboxed VMs) withhold capabilities from every process, CAP_SYS_RESOURCE here, and
# then refuse privileged containers ("unable to apply caps"). Only on such hosts dockerd gets
# scripts/tools/runc-adapter as its default runtime, which asks runc only for the capabilities the
# host has. Elsewhere dockerd is left exactly as the user has it.
source "$(dirname "$0")/../lib/common.sh"

RUNTIME=krill-runc
sudo_() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }

# True when this host's capability bounding set lacks a capability the kernel knows.
host_withholds_caps() {
  local last bnd
  last=$(cat /proc/sys/kernel/cap_last_cap 2>/dev/null) || return 1
  bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
  (( bnd != (1 << (last + 1)) - 1 ))
}

# The adapter is copied out of the repo so dockerd never depends on a work tree that may go away.
install_adapter() {
  local dir="$KRILL_CACHE/docker"
  mkdir -p "$dir"
  command -v jq >/dev/null || DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq jq >&2
  install -m 0755 "$KRILL_ROOT/scripts/tools/runc-adapter" "$dir/runc-adapter.new"
  mv "$dir/runc-adapter.new" "$dir/runc-adapter"
  echo "$dir/runc-adapter"
}

start_dockerd() {
  local args=()
  if host_withholds_caps; then
    args=(--add-runtime "$RUNTIME=$(install_adapter)" --default-runtime "$RUNTIME")
    log "this host withholds capabilities (CapBnd $(awk '/^CapBnd:/ { print $2 }' /proc/self/status)): dockerd runs containers through scripts/tools/runc-adapter"
  fi
  log "starting dockerd (log: $KRILL_CACHE/dockerd.log)"
  # shellcheck disable=SC2145 # the runtime flags are expanded into the inner command on purpose
  sudo_ sh -c "nohup dockerd ${args[*]} >>'$KRILL_CACHE/dockerd.log' 2>&1 &"
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "dockerd did not come up; see $KRILL_CACHE/dockerd.log"
}

# Restarts a dockerd started without the adapter, but never under running containers: waits up to
# KRILL_DOCKER_WAIT seconds (default 900) for them to finish.
restart_with_adapter() {
  local waited=0 limit=${KRILL_DOCKER_WAIT:-900}
  while [[ -n $(docker ps -q) ]]; do
    (( waited == 0 )) && log "dockerd must restart with the runc adapter for privileged containers; waiting for running containers to finish"
    (( waited >= limit )) && die "containers still running after ${limit}s; dockerd was not restarted (privileged containers fail on this host without the adapter)"
    sleep 10; waited=$((waited + 10))
  done
  local pid; pid=$(cat /var/run/docker.pid 2>/dev/null) || die "dockerd runs without the runc adapter and its pid is unknown (/var/run/docker.pid); restart it yourself with: dockerd --add-runtime $RUNTIME=$(install_adapter) --default-runtime $RUNTIME"
  log "restarting dockerd (pid $pid) with the runc adapter"
  sudo_ kill -TERM "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop"
  start_dockerd
}

if ! command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
  log "installing docker.io from Debian's archive"
  sudo_ apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq docker.io >&2
fi
docker info >/dev/null 2>&1 || start_dockerd

if [[ ${1:-} == privileged ]] && host_withholds_caps; then
  if [[ $(docker info --format '{{.DefaultRuntime}}') != "$RUNTIME" ]]; then
    restart_with_adapter
  else
    # The daemon may have been started from an older copy; keep its copy current.
    install_adapter >/dev/null
  fi
fi
