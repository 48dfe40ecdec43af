#!/usr/bin/env bash
# The "existing" provider: whatever KUBECONFIG (or ~/.kube/config) points at, current context.
# Nothing is created or deleted here; `up` only checks the API server answers.
#
#   existing.sh up|env   print `export KRILL_...=...` lines (after checking the cluster is reachable)
#   existing.sh down     nothing to do: the cluster is not ours
#
# KRILL_DNS_SERVER is kept if set (e.g. the local cluster's CoreDNS); otherwise it defaults to the
# cluster's kube-dns Service on port 53, which answers only where this machine can reach Service
# IPs (on a node, or through a VPN into the cluster network).
source "$(dirname "$0")/../lib/common.sh"

K8S_BIN=$(cached kubernetes "$KUBERNETES_VERSION")/bin
kubectl_bin() {
  if [[ -x $K8S_BIN/kubectl ]]; then echo "$K8S_BIN/kubectl"; else "$KRILL_ROOT/scripts/tools/kubernetes.sh" >/dev/null && echo "$K8S_BIN/kubectl"; fi
}

kubeconfig_path() {
  local first=${KUBECONFIG:-$HOME/.kube/config}
  first=${first%%:*}
  [[ -f $first ]] || die "no kubeconfig at $first (set KUBECONFIG to your cluster's kubeconfig)"
  echo "$first"
}

env_cmd() {
  local kc; kc=$(kubeconfig_path)
  local k; k=$(kubectl_bin)
  "$k" --kubeconfig "$kc" get --raw /readyz >/dev/null 2>&1 ||
    die "the cluster of $kc (context $("$k" --kubeconfig "$kc" config current-context 2>/dev/null || echo '?')) does not answer"
  local dns=${KRILL_DNS_SERVER:-}
  if [[ -z $dns ]]; then
    local ip; ip=$("$k" --kubeconfig "$kc" -n kube-system get service kube-dns -o jsonpath='{.spec.clusterIP}' 2>/dev/null || true)
    if [[ -n $ip ]]; then
      dns="$ip:53"
      log "KRILL_DNS_SERVER not set: using kube-dns at $dns (reachable only from the cluster network)"
    else
      log "KRILL_DNS_SERVER not set and no kube-dns Service found: DNS tests will say so"
    fi
  fi
  echo "export KRILL_CLUSTER=existing"
  echo "export KRILL_KUBECONFIG=$kc"
  [[ -n $dns ]] && echo "export KRILL_DNS_SERVER=$dns"
  return 0
}

case ${1:-} in
  up|env) env_cmd ;;
  down) log "existing cluster: nothing to tear down" ;;
  *) echo "usage: scripts/cluster/existing.sh up|down|env" >&2; exit 2 ;;
esac
