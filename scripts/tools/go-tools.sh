#!/usr/bin/env bash
# Installs the Go-built tools krill's tests and dev cluster use, each at its pinned version into
# its own cache directory (scripts/lib/gobuild.sh). Usage: go-tools.sh [tool...] (default: all
# but kind and local-path-provisioner). Prints one bin directory per line, in the order asked.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/gobuild.sh"

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
  # Only the kind node image needs these: its default StorageClass, and the CRI client kind uses
  # to see which images a node already holds (without it `kind load` copies every image again).
  [crictl]="sigs.k8s.io/cri-tools $CRI_TOOLS_VERSION sigs.k8s.io/cri-tools/cmd/crictl"
  # Only the object-store tests need it: SeaweedFS (Apache-2.0) as a real S3 server on the host.
  [weed]="github.com/seaweedfs/seaweedfs $SEAWEEDFS_VERSION github.com/seaweedfs/seaweedfs/weed"
  [local-path-provisioner]="github.com/rancher/local-path-provisioner $LOCAL_PATH_PROVISIONER_VERSION github.com/rancher/local-path-provisioner"
)

tools=("$@"); ((${#tools[@]})) || tools=(helm ct kubeconform actionlint kwok kwokctl coredns)
for t in "${tools[@]}"; do
  [[ -n ${SPEC[$t]:-} ]] || die "unknown Go tool '$t' (known: ${!SPEC[*]})"
  read -r module version pkg <<<"${SPEC[$t]}"
  opts=(--lock "go-$t")   # the lock name these tools have always had: older checkouts share the cache
  # helm reports its version from ldflags; without it it says v3.x-dev.
  [[ $t == helm ]] && opts+=(--ldflags "-X helm.sh/helm/v3/internal/version.version=$version")
  go_wrapper_build "${opts[@]}" "$t" "$version" "$module" "$pkg"
done
