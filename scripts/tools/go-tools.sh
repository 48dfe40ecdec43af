#!/usr/bin/env bash
# Installs the Go-built tools krill's tests and dev cluster use, each from the Go module proxy at
# its pinned version, into its own cache directory. Usage: go-tools.sh [tool...] (default: all
# but kind). Prints one bin directory per line.
#
# Each tool is built through a throwaway wrapper module rather than `go install pkg@version`:
# `go install` also asks the proxy for the module's version list to check deprecations, and the
# proxy reachable here refuses that for some modules (chart-testing), while a pinned require works.
source "$(dirname "$0")/../lib/common.sh"
require_go

# tool -> "module version package"
declare -A SPEC=(
  [helm]="helm.sh/helm/v3 $HELM_VERSION helm.sh/helm/v3/cmd/helm"
  [ct]="github.com/helm/chart-testing/v3 $CHART_TESTING_VERSION github.com/helm/chart-testing/v3/ct"
  [kubeconform]="github.com/yannh/kubeconform $KUBECONFORM_VERSION github.com/yannh/kubeconform/cmd/kubeconform"
  [actionlint]="github.com/rhysd/actionlint $ACTIONLINT_VERSION github.com/rhysd/actionlint/cmd/actionlint"
  [kwok]="sigs.k8s.io/kwok $KWOK_VERSION sigs.k8s.io/kwok/cmd/kwok"
  [kwokctl]="sigs.k8s.io/kwok $KWOK_VERSION sigs.k8s.io/kwok/cmd/kwokctl"
  [kind]="sigs.k8s.io/kind $KIND_VERSION sigs.k8s.io/kind"
  [coredns]="github.com/coredns/coredns $COREDNS_VERSION github.com/coredns/coredns"
)

install_one() {
  local tool=$1 module version pkg
  read -r module version pkg <<<"${SPEC[$tool]}"
  local out; out=$(cached "$tool" "$version")
  is_done "$out" && return 0
  log "building $tool $version from the Go module proxy"
  rm -rf "$out"; mkdir -p "$out/bin" "$out/wrapper"
  printf 'module krill.local/%s-wrapper\n\ngo 1.24\n\nrequire %s %s\n' "$tool" "$module" "$version" >"$out/wrapper/go.mod"
  printf 'package wrapper\n\nimport _ "%s"\n' "$pkg" >"$out/wrapper/tools.go"
  local ld="-s -w"
  # helm reports its version from ldflags; without it it says v3.x-dev.
  [[ $tool == helm ]] && ld+=" -X helm.sh/helm/v3/internal/version.version=$version"
  (cd "$out/wrapper" && go mod tidy >/dev/null 2>&1 && \
    CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$out/bin/$tool" "$pkg")
  mark_done "$out"
}

tools=("$@"); [[ ${#tools[@]} -gt 0 ]] || tools=(helm ct kubeconform actionlint kwok kwokctl coredns)
for t in "${tools[@]}"; do
  [[ -n ${SPEC[$t]:-} ]] || die "unknown Go tool '$t' (known: ${!SPEC[*]})"
  with_lock "go-$t" install_one "$t"
  read -r _ version _ <<<"${SPEC[$t]}"
  echo "$(cached "$t" "$version")/bin"
done
