#!/usr/bin/env bash
# The "kind" provider: a one-node Kubernetes cluster whose node is a Docker container running
# systemd, containerd and a real kubelet, so pods run for real. Created with the pinned stock kind
# CLI (scripts/tools/go-tools.sh kind).
#
#   kind.sh up    create it (idempotent), wait until it can run krill, print `export KRILL_...=...`
#   kind.sh env   print the same lines for a cluster that is already up (fails if it is not)
#   kind.sh down  delete the cluster
#   kind.sh load IMAGE...  copy local Docker images into the node (pods use them without a registry)
#
# Node image (KRILL_KIND_NODE_IMAGE):
#   auto      (default) kind's own node image when it is here or can be pulled and the host runs
#             cgroup v2; otherwise `local`
#   upstream  kind's own default node image (pulled by Docker from its registry)
#   local     built here, offline (scripts/image/kind-node.sh): Kubernetes $KUBERNETES_VERSION,
#             which still runs on cgroup v1 hosts
#   <ref>     any other node image
# Other tunables: KRILL_KIND_CLUSTER (name, default krill-test), KRILL_KIND_DNS_PORT (NodePort that
# exposes the cluster DNS to this machine, default 30053), KRILL_KIND_RETAIN=1 (keep the node of a
# failed create for inspection).
source "$(dirname "$0")/../lib/common.sh"

CLUSTER=${KRILL_KIND_CLUSTER:-krill-test}
STATE="$KRILL_CACHE/state/kind/$CLUSTER"
KUBECONFIG_PATH="$STATE/kubeconfig"
DNS_PORT=${KRILL_KIND_DNS_PORT:-30053}
K8S_BIN=$(cached kubernetes "$KUBERNETES_VERSION")/bin

usage() { echo "usage: scripts/cluster/kind.sh up|down|env|load IMAGE..." >&2; exit 2; }

kind_bin() { echo "$("$KRILL_ROOT/scripts/tools/go-tools.sh" kind)/kind"; }
kubectl_kind() { "$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }

cluster_exists() { "$KIND" get clusters 2>/dev/null | grep -qx "$CLUSTER"; }
cluster_answers() { [[ -f $KUBECONFIG_PATH ]] && kubectl_kind get --raw /readyz >/dev/null 2>&1; }

# kind's built-in default node image, read from the pinned kind's own source.
upstream_image() {
  local file; file="$(go env GOMODCACHE)/sigs.k8s.io/kind@$KIND_VERSION/pkg/apis/config/defaults/image.go"
  [[ -f $file ]] || die "kind $KIND_VERSION source not found at $file"
  sed -n 's/^const Image = "\(.*\)"$/\1/p' "$file"
}

# kubelet 1.35+ (kind's default image of v0.32) refuses cgroup v1; the local image stays on 1.33.
host_cgroup_v2() { [[ -f /sys/fs/cgroup/cgroup.controllers ]]; }

# Prints "local" or an image reference.
choose_image() {
  local want=${KRILL_KIND_NODE_IMAGE:-auto} upstream
  case $want in
    local) echo local ;;
    upstream) upstream_image ;;
    auto)
      upstream=$(upstream_image)
      if ! host_cgroup_v2; then
        log "cgroup v1 host: kind's default node image ($upstream) needs cgroup v2; using the local node image"
        echo local
      elif docker image inspect "$upstream" >/dev/null 2>&1 \
           || timeout "${KRILL_KIND_PULL_TIMEOUT:-600}" docker pull -q "$upstream" >/dev/null 2>&1; then
        echo "$upstream"
      else
        log "kind's node image $upstream cannot be pulled here; using the local node image"
        echo local
      fi ;;
    *) echo "$want" ;;
  esac
}

# The local image carries kubeadm's images under krill.local and our own versions of etcd and
# CoreDNS (the project's pins, not kubeadm's defaults), and no CNI manifest (its CNI config is
# baked in): kind's config says so.
write_config() {
  local image=$1
  mkdir -p "$STATE"
  {
    cat <<YAML
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
YAML
    if [[ $image == krill-kind-node:* ]]; then
      cat <<YAML
networking:
  disableDefaultCNI: true
kubeadmConfigPatches:
  - |
    kind: ClusterConfiguration
    imageRepository: krill.local
    etcd:
      local:
        imageTag: ${ETCD_VERSION#v}-0
    dns:
      imageTag: $COREDNS_VERSION
YAML
    fi
  } >"$STATE/kind.yaml"
}

# The cluster DNS, exposed on the node so tests on this machine can query it like pods do.
expose_dns() {
  kubectl_kind apply -f - >&2 <<YAML
apiVersion: v1
kind: Service
metadata:
  name: krill-dns-nodeport
  namespace: kube-system
  labels: {app.kubernetes.io/managed-by: krill-kind-sh}
spec:
  type: NodePort
  selector: {k8s-app: kube-dns}
  ports:
    - {name: dns, protocol: UDP, port: 53, targetPort: 53, nodePort: $DNS_PORT}
    - {name: dns-tcp, protocol: TCP, port: 53, targetPort: 53, nodePort: $DNS_PORT}
YAML
}

node_ip() {
  docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$CLUSTER-control-plane"
}

wait_ready() {
  log "waiting for the node, CoreDNS and the default StorageClass"
  kubectl_kind wait --for=condition=Ready nodes --all --timeout=300s >&2
  kubectl_kind -n kube-system rollout status deployment/coredns --timeout=300s >&2
  if kubectl_kind get namespace local-path-storage >/dev/null 2>&1; then
    kubectl_kind -n local-path-storage rollout status deployment/local-path-provisioner --timeout=300s >&2
  fi
  local default
  default=$(kubectl_kind get storageclass -o \
    jsonpath='{range .items[?(@.metadata.annotations.storageclass\.kubernetes\.io/is-default-class=="true")]}{.metadata.name}{end}')
  [[ -n $default ]] || die "the kind cluster has no default StorageClass"
}

print_env() {
  local ip; ip=$(node_ip)
  [[ -n $ip ]] || die "kind cluster '$CLUSTER' has no node container"
  echo "export KRILL_CLUSTER=\${KRILL_CLUSTER:-kind}"
  echo "export KRILL_KUBECONFIG=$KUBECONFIG_PATH"
  echo "export KRILL_DNS_SERVER=$ip:$DNS_PORT"
  echo "export KRILL_KIND_CLUSTER=$CLUSTER"
  echo "export KRILL_KIND=$KIND"
  echo "export KRILL_TOOLS_PATH=$K8S_BIN:$(cached helm "$HELM_VERSION")/bin:\${KRILL_TOOLS_PATH:-}"
}

# A half-made cluster is worse than none.
undo_create() {
  local rc=$?
  ((rc == 0)) && return 0
  if [[ ${KRILL_KIND_RETAIN:-0} == 1 ]]; then
    log "creating the kind cluster failed; kept for inspection (KRILL_KIND_RETAIN=1): docker exec -it $CLUSTER-control-plane journalctl -u kubelet"
    return 0
  fi
  log "creating the kind cluster failed; deleting what was made"
  "$KIND" delete cluster --name "$CLUSTER" >&2 || true
}

up() {
  "$KRILL_ROOT/scripts/tools/docker.sh" privileged
  "$KRILL_ROOT/scripts/tools/kubernetes.sh" >/dev/null
  "$KRILL_ROOT/scripts/tools/go-tools.sh" helm >/dev/null
  KIND=$(kind_bin)
  if cluster_exists && cluster_answers; then
    log "kind cluster '$CLUSTER' already running"
  else
    cluster_exists && { log "removing broken kind cluster '$CLUSTER'"; "$KIND" delete cluster --name "$CLUSTER" >&2; }
    local image; image=$(choose_image)
    [[ $image == local ]] && image=$("$KRILL_ROOT/scripts/image/kind-node.sh")
    write_config "$image"
    log "creating kind cluster '$CLUSTER' (node image $image)"
    local start=$SECONDS
    trap undo_create EXIT
    local retain=(); [[ ${KRILL_KIND_RETAIN:-0} == 1 ]] && retain=(--retain)
    "$KIND" create cluster --name "$CLUSTER" --image "$image" --config "$STATE/kind.yaml" \
      --kubeconfig "$KUBECONFIG_PATH" --wait 300s "${retain[@]}" >&2
    wait_ready
    expose_dns
    trap - EXIT
    log "kind cluster '$CLUSTER' ready in $((SECONDS - start)) s"
  fi
  wait_ready
  print_env
}

down() {
  KIND=$(kind_bin)
  if cluster_exists; then
    log "deleting kind cluster '$CLUSTER'"
    "$KIND" delete cluster --name "$CLUSTER" >&2
  fi
  rm -rf "$STATE"
}

env_cmd() {
  KIND=$(cached kind "$KIND_VERSION")/bin/kind
  [[ -x $KIND ]] || die "kind is not installed (run: $0 up)"
  if ! cluster_exists || ! cluster_answers; then die "kind cluster '$CLUSTER' is not running (run: $0 up)"; fi
  print_env
}

load() {
  (($#)) || usage
  KIND=$(kind_bin)
  cluster_exists || die "kind cluster '$CLUSTER' is not running (run: $0 up)"
  local image
  for image in "$@"; do
    docker image inspect "$image" >/dev/null 2>&1 || die "image $image is not in the local Docker"
  done
  log "loading $* into kind cluster '$CLUSTER'"
  "$KIND" load docker-image --name "$CLUSTER" "$@" >&2
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) env_cmd ;;
  load) shift; load "$@" ;;
  *) usage ;;
esac
