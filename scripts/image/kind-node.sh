#!/usr/bin/env bash
# Builds the kind node image for machines that cannot pull kind's own (no registry reachable) and
# prints its reference, krill-kind-node:<kubernetes version>-<hash of its inputs>. Nothing is
# pulled: the root is the local Debian base (scripts/image/base-image.sh) plus Debian's systemd,
# containerd, runc and CNI plugins; kubeadm, kubelet, kubectl, crictl and every image the cluster runs
# are built here from the pinned sources. A built image is reused until an input changes.
#
# Why not `kind build node-image`: it fetches every image it bundles from a registry inside its
# build container, and imports them with a ctr flag Debian's containerd lacks.
#
# The images carry kubeadm's names under the repository krill.local (not a registry: nothing ever
# pulls from it; scripts/cluster/kind.sh points kubeadm at it):
#   kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy   :$KUBERNETES_VERSION
#   etcd:<ETCD_VERSION>-0, coredns:$COREDNS_VERSION, pause:<containerd's sandbox_image tag>,
#   local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION, kind-components:$KUBERNETES_VERSION
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/image/lib.sh"

SRC=$KRILL_ROOT/image/kind-node
REPO=krill.local

# Everything that decides the image's content: our files and the pins of what goes in.
inputs_hash() {
  {
    (cd "$SRC" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    grep -E '^(KUBERNETES_VERSION|KUBERNETES_STAGING_VERSION|ETCD_VERSION|COREDNS_VERSION|LOCAL_PATH_PROVISIONER_VERSION|CRI_TOOLS_VERSION|BASE_SUITE)=' \
      "$KRILL_ROOT/scripts/versions.env"
  } | sha256sum | cut -c1-12
}
REF="krill-kind-node:$KUBERNETES_VERSION-$(inputs_hash)"

pause_ref() { sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p' "$SRC/files/etc/containerd/config.toml"; }

build() {
  docker image inspect "$REF" >/dev/null 2>&1 && return 0
  local start=$SECONDS T=$KRILL_ROOT/scripts/tools
  local base node_bin k8s_bin etcd_bin coredns_bin lpp_bin crictl_bin
  base=$("$KRILL_ROOT/scripts/image/base-image.sh")
  node_bin=$("$T/kubernetes.sh" node)
  k8s_bin=$("$T/kubernetes.sh")
  etcd_bin=$("$T/etcd.sh")
  coredns_bin=$("$T/go-tools.sh" coredns)
  lpp_bin=$("$T/go-tools.sh" local-path-provisioner)
  crictl_bin=$("$T/go-tools.sh" crictl)
  require_go

  mkdir -p "$KRILL_CACHE/tmp"
  local ctx; ctx=$(mktemp -d "$KRILL_CACHE/tmp/kind-node.XXXXXX")
  # shellcheck disable=SC2064 # expand now: ctx is local
  trap "rm -rf '$ctx'" EXIT

  log "kind node image: component images"
  mkdir -p "$ctx/images/components" "$ctx/node/bin"
  cp "$k8s_bin"/kube-{apiserver,controller-manager,scheduler} "$etcd_bin/etcd" \
     "$coredns_bin/coredns" "$lpp_bin/local-path-provisioner" "$ctx/images/components/"
  cp "$SRC/images/kube-proxy" "$ctx/images/components/kube-proxy"
  cp "$node_bin/kube-proxy" "$ctx/images/kube-proxy"
  (cd "$SRC/pause" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$ctx/images/pause" .)

  local components="$REPO/kind-components:$KUBERNETES_VERSION" pause; pause=$(pause_ref)
  BASE_IMAGE=$base image_build "$SRC/images/Dockerfile" "$ctx/images" "$components" \
    "$REPO/kube-apiserver:$KUBERNETES_VERSION" "$REPO/kube-controller-manager:$KUBERNETES_VERSION" \
    "$REPO/kube-scheduler:$KUBERNETES_VERSION" "$REPO/kube-proxy:$KUBERNETES_VERSION" \
    "$REPO/etcd:${ETCD_VERSION#v}-0" "$REPO/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" \
    -- --target components
  # kubeadm names CoreDNS <repository>/coredns when the repository is not its default one.
  BASE_IMAGE=$base image_build "$SRC/images/Dockerfile" "$ctx/images" "$REPO/coredns:$COREDNS_VERSION" \
    -- --target coredns
  image_build "$SRC/images/Dockerfile" "$ctx/images" "$pause" -- --target pause

  docker save -o "$ctx/node/images.tar" "$components" \
    "$REPO/kube-apiserver:$KUBERNETES_VERSION" "$REPO/kube-controller-manager:$KUBERNETES_VERSION" \
    "$REPO/kube-scheduler:$KUBERNETES_VERSION" "$REPO/kube-proxy:$KUBERNETES_VERSION" \
    "$REPO/etcd:${ETCD_VERSION#v}-0" "$REPO/local-path-provisioner:$LOCAL_PATH_PROVISIONER_VERSION" \
    "$REPO/coredns:$COREDNS_VERSION" "$pause"

  log "kind node image: $REF"
  cp -a "$SRC/files" "$SRC/Dockerfile" "$ctx/node/"
  cp "$node_bin/kubeadm" "$node_bin/kubelet" "$k8s_bin/kubectl" "$crictl_bin/crictl" "$ctx/node/bin/"
  BASE_IMAGE=$base image_build "$ctx/node/Dockerfile" "$ctx/node" "$REF" -- \
    --build-arg "KUBERNETES_VERSION=$KUBERNETES_VERSION" \
    --build-arg "LOCAL_PATH_PROVISIONER_VERSION=$LOCAL_PATH_PROVISIONER_VERSION"
  rm -rf "$ctx"; trap - EXIT
  log "kind node image built in $((SECONDS - start)) s (binaries included when they were cold)"
}

if ! docker image inspect "$REF" >/dev/null 2>&1; then
  "$KRILL_ROOT/scripts/tools/docker.sh"
  with_lock kind-node-image build
fi
echo "$REF"
