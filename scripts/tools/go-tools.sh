#!/usr/bin/env bash
# Installs the Go-built tools krill's tests and dev cluster use, each from the Go module proxy at
# its pinned version, into its own cache directory. Usage: go-tools.sh [tool...] (default: all).
# Prints one bin directory per line.
source "$(dirname "$0")/../lib/common.sh"
require_go

declare -A MODULE=(
  [helm]="helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [ct]="github.com/helm/chart-testing/v3/ct@$CHART_TESTING_VERSION"
  [kubeconform]="github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
  [actionlint]="github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  [kwok]="sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  [kwokctl]="sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
  [kind]="sigs.k8s.io/kind@$KIND_VERSION"
  [coredns]="github.com/coredns/coredns@$COREDNS_VERSION"
)

install_one() {
  local tool=$1 spec=${MODULE[$1]}
  local out; out=$(cached "$tool" "${spec##*@}")
  is_done "$out" && return 0
  log "installing $tool ${spec##*@} from the Go module proxy"
  mkdir -p "$out/bin"
  local ld="-s -w"
  # helm reports its version from ldflags; without them `helm version` says v3.x-dev and
  # chart-testing's version checks misread it.
  [[ $tool == helm ]] && ld+=" -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
  [[ $tool == kwok || $tool == kwokctl ]] && ld+=" -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
  CGO_ENABLED=0 GOBIN="$out/bin" go install -trimpath -ldflags "$ld" "$spec"
  mark_done "$out"
}

tools=("$@"); [[ ${#tools[@]} -gt 0 ]] || tools=(helm ct kubeconform actionlint kwok kwokctl coredns)
for t in "${tools[@]}"; do
  [[ -n ${MODULE[$t]:-} ]] || die "unknown Go tool '$t' (known: ${!MODULE[*]})"
  with_lock "go-$t" install_one "$t"
  echo "$(cached "$t" "${MODULE[$t]##*@}")/bin"
done
