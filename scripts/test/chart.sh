#!/usr/bin/env bash
# Non-cargo checks of charts/krill: helm lint --strict, ct lint, strict schema validation of every
# rendered manifest against the Kubernetes OpenAPI (offline, kubeconform), actionlint on the
# shipped workflows, and no version written into them (scripts/versions.env holds every pin). The
# Rust rendering tests live in harness/tests/chart (cargo test).
# Needs the test environment from scripts/dev (KRILL_TOOLS_PATH). Last line: "P passed, F failed,
# N skipped".
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/lib/phase.sh"
cd "$KRILL_ROOT"
phase_start chart

[[ -n ${KRILL_TOOLS_PATH:-} ]] || die "KRILL_TOOLS_PATH is not set: run through 'scripts/dev test' or eval \"\$(scripts/dev env)\" first"
export PATH="$KRILL_TOOLS_PATH:$PATH"
for tool in helm ct kubeconform actionlint yamllint yamale git python3; do
  command -v "$tool" >/dev/null || die "'$tool' not found on KRILL_TOOLS_PATH/PATH (install it with scripts/dev tools)"
done

CHART=charts/krill
KUBE_VERSION=${KUBERNETES_VERSION#v}

# Strict JSON schemas for the pinned Kubernetes, generated once per version from the OpenAPI
# document that ships in the k8s.io/kubernetes module.
schemas_dir() {
  local dir; dir=$(cached k8s-json-schemas "$KUBERNETES_VERSION")
  if ! is_done "$dir"; then
    local swagger
    swagger="$(go env GOMODCACHE 2>/dev/null)/k8s.io/kubernetes@$KUBERNETES_VERSION/api/openapi-spec/swagger.json"
    if [[ ! -f $swagger ]]; then
      local mod_dir
      mod_dir=$(cd "$(mktemp -d)" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])') \
        || die "cannot fetch k8s.io/kubernetes@$KUBERNETES_VERSION for its OpenAPI document (Go module proxy)"
      swagger="$mod_dir/api/openapi-spec/swagger.json"
    fi
    rm -rf "$dir"
    python3 scripts/test/k8s-json-schemas.py "$swagger" "$dir" || die "generating JSON schemas from $swagger failed"
    mark_done "$dir"
  fi
  echo "$dir"
}
SCHEMAS=$(with_lock k8s-json-schemas schemas_dir)

values_files=("$CHART/values.yaml" "$CHART"/ci/*-values.yaml "$CHART/values-dev.yaml" "$CHART/values-prod.yaml" harness/tests/chart/cases/*.yaml)

for values in "${values_files[@]}"; do
  check "helm lint --strict -f $values" helm lint --strict "$CHART" -f "$values" --kube-version "$KUBE_VERSION"
done

check "ct lint --config ct.yaml" ct lint --config ct.yaml --charts "$CHART"

kubeconform_values() {
  helm template krill "$CHART" -n krill --kube-version "$KUBE_VERSION" -f "$1" |
    kubeconform -strict -summary -kubernetes-version "$KUBE_VERSION" \
      -schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" -
}
for values in "${values_files[@]}"; do
  check "kubeconform -strict (Kubernetes $KUBE_VERSION OpenAPI): $values" kubeconform_values "$values"
done

# The validation must be able to fail: a misspelt field in a StatefulSet is rejected.
misspelt_is_rejected() {
  local out
  if out=$(helm template krill "$CHART" -n krill --kube-version "$KUBE_VERSION" -s templates/krill-statefulset.yaml |
    sed 's/podManagementPolicy:/podManagementPolicyy:/' |
    kubeconform -strict -schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" - 2>&1); then
    echo "kubeconform accepted a StatefulSet with a misspelt field"; return 1
  fi
  grep -q "podManagementPolicyy" <<<"$out" || { echo "unexpected kubeconform output: $out"; return 1; }
}
check "kubeconform rejects a misspelt field" misspelt_is_rejected

check "actionlint .github/workflows" actionlint .github/workflows/*.yaml

# The workflows get every tool through scripts/tools/, which read scripts/versions.env; a version
# written into a workflow would drift from the pins. Only actions (`uses: owner/action@ref`), the
# runner's label (`runs-on: ubuntu-24.04`) and comments may carry version numbers.
workflow_versions() { # FILE -> each version-like literal outside those
  grep -vE '^[[:space:]]*(- )?(uses|runs-on):' "$1" | sed 's/#.*//' | grep -oE '\bv?[0-9]+\.[0-9]+(\.[0-9]+)*\b' || true
}
no_versions_in_workflows() {
  local f v found=0
  for f in .github/workflows/*.yaml; do
    while read -r v; do
      echo "$f names version $v: let a script under scripts/ take it from scripts/versions.env"; found=1
    done < <(workflow_versions "$f")
  done
  ((found == 0))
}
check "no version pinned in .github/workflows (scripts/versions.env is the one place)" no_versions_in_workflows
# ...and the check can fail: a pin copied into a workflow, as the first workflow did, is found.
copied_pin_is_found() {
  local found
  found=$(workflow_versions <(printf 'env:\n  HELM_VERSION: %s # pinned\nsteps:\n  - uses: actions/checkout@v4.2.2\n' "$HELM_VERSION"))
  [[ $found == "$HELM_VERSION" ]] || { echo "expected to find $HELM_VERSION, found: '$found'"; return 1; }
}
check "a version copied into a workflow is found" copied_pin_is_found

phase_end
