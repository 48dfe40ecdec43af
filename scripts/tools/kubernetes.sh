#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the Go module
# proxy. `go install k8s.io/kubernetes/...@v` is refused because kubernetes' go.mod points its
# staging modules at ./staging; a wrapper module that replaces each with its published version
# gets round that.
source "$(dirname "$0")/../lib/common.sh"
require_go

out=$(cached kubernetes "$KUBERNETES_VERSION")
is_done "$out" && { echo "$out/bin"; exit 0; }

build() {
  is_done "$out" && return 0
  local wrap="$out/wrapper" minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  mkdir -p "$wrap" "$out/bin"
  local staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go
    cloud-provider cluster-bootstrap code-generator component-base component-helpers
    controller-manager cri-api cri-client csi-translation-lib dynamic-resource-allocation
    endpointslice externaljwt kms kube-aggregator kube-controller-manager kube-proxy
    kube-scheduler kubectl kubelet metrics mount-utils pod-security-admission sample-apiserver)
  {
    echo "module krill.local/k8s-wrapper"
    echo "go 1.24.0"
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    for m in "${staging[@]}"; do echo "replace k8s.io/$m => k8s.io/$m $KUBERNETES_STAGING_VERSION"; done
  } >"$wrap/go.mod"
  printf 'package wrapper\n\nimport _ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n' >"$wrap/tools.go"
  (cd "$wrap" && go get "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null)
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    log "building $cmd $KUBERNETES_VERSION (cold: several minutes)"
    # -mod=mod: the wrapper's go.sum starts with kube-apiserver's closure only; each further
    # command adds the entries it needs.
    (cd "$wrap" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "$ld" -o "$out/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
  mark_done "$out"
}
with_lock kubernetes build
echo "$out/bin"
