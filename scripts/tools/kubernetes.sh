#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the Go module
# proxy. kubernetes' own go.mod points its staging modules (k8s.io/api, client-go, ...) at
# ./staging, so the wrapper module replaces each with its published version.
# `kubernetes.sh node` builds what a kind node runs instead: kubeadm, kubelet, kube-proxy.
# Usage: kubernetes.sh [node]. Prints the bin directory.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/gobuild.sh"

staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
  cloud-provider cluster-bootstrap code-generator component-base component-helpers
  controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation
  endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy
  kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver)
replaces=()
for m in "${staging[@]}"; do replaces+=(--replace "k8s.io/$m => k8s.io/$m $KUBERNETES_STAGING_VERSION"); done

# What `kubectl version` and the components report; kubernetes' own build sets the same.
minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
ld=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

case ${1:-} in
  "")
    go_wrapper_build "${replaces[@]}" --ldflags "${ld# }" kubernetes "$KUBERNETES_VERSION" k8s.io/kubernetes \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl ;;
  # What a kind node runs (scripts/image/kind-node.sh), in a cache entry of its own so the
  # local cluster never waits for it.
  node)
    go_wrapper_build "${replaces[@]}" --ldflags "${ld# }" kubernetes-node "$KUBERNETES_VERSION" k8s.io/kubernetes \
      k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy ;;
  *) die "usage: $0 [node]" ;;
esac
