#!/usr/bin/env bash
# A local Kubernetes cluster of real control-plane components (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, all built from source by scripts/tools/) with nodes
# simulated by kwok, plus CoreDNS on the host so cluster DNS names resolve for real.
#
#   local.sh up    start it (idempotent) and print `export KRILL_...=...` lines on stdout
#   local.sh env   print the same lines for a cluster that is already up (fails if it is not)
#   local.sh down  stop CoreDNS and delete the cluster and its state
#
# Tunables (env): KRILL_LOCAL_CLUSTER (name, default krill-test), KRILL_LOCAL_NODES (simulated
# nodes, default 4), KRILL_LOCAL_DNS_PORT (default: first free port from 15353),
# KRILL_LOCAL_QPS_LIMITS=1 keeps the components' default client QPS limits (see docs/testing.md),
# KWOK_WORKDIR (default $KRILL_CACHE/state/kwok).
#
# Nothing is downloaded here: every binary comes from the version-keyed cache, and kwokctl is given
# each path explicitly (it would otherwise fetch release tarballs from GitHub).
source "$(dirname "$0")/../lib/common.sh"

CLUSTER=${KRILL_LOCAL_CLUSTER:-krill-test}
NODES=${KRILL_LOCAL_NODES:-4}
export KWOK_WORKDIR=${KWOK_WORKDIR:-$KRILL_CACHE/state/kwok}
STATE="$KWOK_WORKDIR/clusters/$CLUSTER"
KUBECONFIG_PATH="$STATE/kubeconfig.yaml"
# Our own files live beside kwokctl's, in a directory it does not manage.
EXTRA="$KWOK_WORKDIR/krill-$CLUSTER"

usage() { echo "usage: scripts/cluster/local.sh up|down|env" >&2; exit 2; }

tool_dirs() {
  K8S_BIN=$("$KRILL_ROOT/scripts/tools/kubernetes.sh")
  ETCD_BIN=$("$KRILL_ROOT/scripts/tools/etcd.sh")
  local go_bins; go_bins=$("$KRILL_ROOT/scripts/tools/go-tools.sh" kwok kwokctl coredns)
  KWOK_BIN=$(sed -n 1p <<<"$go_bins"); KWOKCTL_BIN=$(sed -n 2p <<<"$go_bins")
  COREDNS_BIN=$(sed -n 3p <<<"$go_bins")
  # kwokctl runs kubectl from PATH; make sure it finds the pinned one.
  export PATH="$K8S_BIN:$KWOKCTL_BIN:$PATH"
}

# The kwok module source carries the stage definitions; go-tools.sh put it in the module cache.
kwok_source() {
  local dir; dir="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION"
  [[ -d $dir/kustomize/stage ]] || (cd "$KRILL_CACHE" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION" >&2)
  [[ -d $dir/kustomize/stage ]] || die "kwok $KWOK_VERSION source not found under $dir"
  echo "$dir"
}

# kwokctl uses only the stages in its config once any is given, so the config repeats its default
# node and pod stages and adds the opt-in volume stages that provision and bind PVCs.
write_config() {
  local src; src=$(kwok_source)/kustomize/stage
  mkdir -p "$EXTRA"
  {
    cat <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  # The API server and etcd listen on loopback only: this is a test cluster with admin certs.
  bindAddress: 127.0.0.1
YAML
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml \
             volume/fast/pvc-provision.yaml volume/fast/pv-bind.yaml volume/fast/pv-delete.yaml \
             volume/fast/pvc-delete.yaml; do
      [[ -f $src/$f ]] || die "kwok stage $f missing from $src"
      echo "---"; cat "$src/$f"
    done
  } >"$EXTRA/kwokctl.yaml"
  cp "$src/volume/fast/storage-class.yaml" "$EXTRA/storage-class.yaml"
}

kubectl_local() { kubectl --kubeconfig "$KUBECONFIG_PATH" "$@"; }

# kwokctl logs each of its steps, as JSON lines when its output is not a terminal. We say what we
# do in one line per step instead, and show kwokctl's own log only when it fails.
kwokctl_quiet() {
  local out; out=$(mktemp)
  if kwokctl "$@" >"$out" 2>&1; then rm -f "$out"; return 0; fi
  cat "$out" >&2; rm -f "$out"; return 1
}

cluster_running() {
  [[ -f $KUBECONFIG_PATH ]] && kubectl_local get --raw /readyz >/dev/null 2>&1
}

free_port() {
  local port=$1
  while ss -Hlntu | awk '{print $5}' | grep -qE "[:.]$port\$"; do port=$((port + 1)); done
  echo "$port"
}

dns_running() {
  [[ -f $EXTRA/coredns.pid ]] && kill -0 "$(cat "$EXTRA/coredns.pid")" 2>/dev/null
}

start_dns() {
  dns_running && return 0
  local port; port=${KRILL_LOCAL_DNS_PORT:-$(free_port 15353)}
  local ready; ready=$(free_port $((port + 1)))
  cat >"$EXTRA/Corefile" <<COREFILE
cluster.local:$port {
    bind 127.0.0.1
    errors
    ready 127.0.0.1:$ready
    kubernetes cluster.local {
        kubeconfig $KUBECONFIG_PATH
    }
}
COREFILE
  log "starting CoreDNS on 127.0.0.1:$port (cluster.local)"
  setsid "$COREDNS_BIN/coredns" -conf "$EXTRA/Corefile" >"$EXTRA/coredns.log" 2>&1 </dev/null &
  echo $! >"$EXTRA/coredns.pid"
  echo "127.0.0.1:$port" >"$EXTRA/dns.addr"
  # The kubernetes plugin reports ready only after its informers synced with the API server.
  for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$ready/ready" >/dev/null 2>&1 && return 0
    dns_running || { cat "$EXTRA/coredns.log" >&2; die "CoreDNS exited; log above"; }
    sleep 0.5
  done
  cat "$EXTRA/coredns.log" >&2
  die "CoreDNS did not become ready within 30 s"
}

stop_dns() {
  if dns_running; then
    log "stopping CoreDNS"
    local pid; pid=$(cat "$EXTRA/coredns.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  fi
  rm -f "$EXTRA/coredns.pid" "$EXTRA/dns.addr"
}

print_env() {
  [[ -f $EXTRA/dns.addr ]] || die "local cluster '$CLUSTER' is not up (run: scripts/cluster/local.sh up)"
  echo "export KRILL_CLUSTER=\${KRILL_CLUSTER:-local}"
  echo "export KRILL_KUBECONFIG=$KUBECONFIG_PATH"
  echo "export KRILL_DNS_SERVER=$(cat "$EXTRA/dns.addr")"
  echo "export KRILL_TOOLS_PATH=${K8S_BIN:+$K8S_BIN:}${HELM_BIN:+$HELM_BIN:}\${KRILL_TOOLS_PATH:-}"
}

# Half-started state is worse than none: `up` undoes whatever it started if it fails.
undo_failed_up() {
  local rc=$?
  ((rc == 0)) && return 0
  log "setup failed; cleaning up"
  stop_dns
  if [[ $created == 1 ]]; then kwokctl_quiet delete cluster --name "$CLUSTER" || true; fi
}

up() {
  tool_dirs
  HELM_BIN=$("$KRILL_ROOT/scripts/tools/go-tools.sh" helm)
  created=0
  trap undo_failed_up EXIT
  if cluster_running; then
    log "local cluster '$CLUSTER' already running"
  else
    # A cluster whose processes died (reboot, killed shell) is deleted and made again.
    if [[ -d $STATE ]]; then
      log "removing stale state of '$CLUSTER'"
      kwokctl_quiet delete cluster --name "$CLUSTER" || rm -rf "$STATE"
    fi
    write_config
    local qps=(--disable-qps-limits)
    [[ ${KRILL_LOCAL_QPS_LIMITS:-0} == 1 ]] && qps=()
    log "creating local cluster '$CLUSTER' (kwokctl, binary runtime)"
    created=1
    kwokctl_quiet create cluster --name "$CLUSTER" --runtime binary \
      --config "$EXTRA/kwokctl.yaml" \
      --kubeconfig "" \
      --etcd-binary "$ETCD_BIN/etcd" \
      --kube-apiserver-binary "$K8S_BIN/kube-apiserver" \
      --kube-controller-manager-binary "$K8S_BIN/kube-controller-manager" \
      --kube-scheduler-binary "$K8S_BIN/kube-scheduler" \
      --kwok-controller-binary "$KWOK_BIN/kwok" \
      --kube-authorization --kube-admission \
      "${qps[@]}" \
      --wait 120s
  fi
  kubectl_local apply -f "$EXTRA/storage-class.yaml" >/dev/null
  local have; have=$(kubectl_local get nodes --no-headers 2>/dev/null | wc -l)
  if (( have < NODES )); then
    log "scaling simulated nodes to $NODES"
    kwokctl_quiet scale node --name "$CLUSTER" --replicas "$NODES"
  fi
  kubectl_local wait --for=condition=Ready nodes --all --timeout=60s >/dev/null
  start_dns
  trap - EXIT
  print_env
}

down() {
  stop_dns
  if [[ -d $STATE ]]; then
    tool_dirs
    log "deleting local cluster '$CLUSTER' (and krill with it)"
    kwokctl_quiet delete cluster --name "$CLUSTER" || rm -rf "$STATE"
  else
    log "no local cluster '$CLUSTER' to delete"
  fi
  rm -rf "$EXTRA"
}

env_cmd() {
  cluster_running || die "local cluster '$CLUSTER' is not running (run: scripts/cluster/local.sh up)"
  K8S_BIN=$(cached kubernetes "$KUBERNETES_VERSION")/bin
  HELM_BIN=$(cached helm "$HELM_VERSION")/bin
  print_env
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) PATH="$(cached kubernetes "$KUBERNETES_VERSION")/bin:$PATH" env_cmd ;;
  *) usage ;;
esac
