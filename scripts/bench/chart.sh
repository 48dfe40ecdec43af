#!/usr/bin/env bash
# Benchmark: `helm template` time of charts/krill for 10, 100 and 1000 named krills (each its own
# StatefulSet, Service, ConfigMap and Secret), against an upstream OpenClaw chart that deploys one
# agent per release (so N agents cost N renders), measured in the same run.
#
#   scripts/bench/chart.sh    print the "## Helm chart" section and write it into docs/benchmarks.md
#                             (KRILL_BENCH_WRITE=0: print only)
#
# Upstream chart: UPSTREAM_CHART=<dir with Chart.yaml>, else thepagent/openclaw-helm from the local
# mirror (/work/.mirror) when present; without one the comparison column says so.
source "$(dirname "$0")/../lib/common.sh"
source "$KRILL_ROOT/scripts/bench/lib.sh"
cd "$KRILL_ROOT"

export PATH="${KRILL_TOOLS_PATH:-$(scripts/tools/go-tools.sh helm)}:$PATH"
command -v helm >/dev/null || die "helm not found (scripts/dev tools)"
KUBE_VERSION=${KUBERNETES_VERSION#v}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

upstream=${UPSTREAM_CHART:-}
upstream_name="thepagent/openclaw-helm"
if [[ -z $upstream ]]; then
  mirror=/work/.mirror/thepagent+openclaw-helm/repo
  if [[ -d $mirror ]]; then
    git -C "$mirror" archive HEAD charts/openclaw-helm | tar -x -C "$work"
    upstream="$work/charts/openclaw-helm"
    upstream_name="thepagent/openclaw-helm@$(git -C "$mirror" rev-parse --short HEAD) ($(awk '/^version:/ {print $2}' "$upstream/Chart.yaml"))"
  fi
fi

values_for() { # N -> values file with N named krills, each with its own model, AGENTS.md and env
  local n=$1 file="$work/krills-$1.yaml" i
  {
    echo "replicas: 0"
    echo "apiServer:"
    echo "  models: [{name: default, model: openai/a}, {name: large, model: openai/b}]"
    echo "krills:"
    for ((i = 0; i < n; i++)); do
      printf '  k%04d:\n    model: %s\n    agentsMd: "# Krill %d"\n    env: [{name: TEAM, value: t%d}]\n' \
        "$i" "$([[ $((i % 2)) == 0 ]] && echo default || echo large)" "$i" "$((i % 7))"
    done
  } >"$file"
  echo "$file"
}

now_ms() { date +%s%3N; }

krill_ms() { # N runs -> median ms of one render of N krills
  local file runs=$2 r start
  file=$(values_for "$1")
  helm template krill charts/krill -n krill --kube-version "$KUBE_VERSION" -f "$file" >"$work/out.yaml" \
    || die "helm template failed for $1 krills"
  for ((r = 0; r < runs; r++)); do
    start=$(now_ms)
    helm template krill charts/krill -n krill --kube-version "$KUBE_VERSION" -f "$file" >/dev/null
    echo $(($(now_ms) - start))
  done | median
}

upstream_ms() { # N -> ms for N renders of the upstream chart (one agent each)
  local n=$1 i start
  start=$(now_ms)
  for ((i = 0; i < n; i++)); do helm template "agent-$i" "$upstream" >/dev/null; done
  echo $(($(now_ms) - start))
}

machine=$(bench_machine)
rows=()
declare -A krill_at
for n in 10 100 1000; do
  runs=5; ((n == 1000)) && runs=3
  k=$(krill_ms "$n" "$runs")
  krill_at[$n]=$k
  objects=$(grep -c '^kind:' "$work/out.yaml")
  bytes=$(wc -c <"$work/out.yaml")
  if [[ -n $upstream ]]; then
    u=$(upstream_ms "$n")
    ratio=$(awk -v u="$u" -v k="$k" 'BEGIN {printf "%.1f", u / k}')
    rows+=("| $n | $k | $objects | $((bytes / 1024)) | $u | ${ratio}x |")
  else
    rows+=("| $n | $k | $objects | $((bytes / 1024)) | n/a | n/a |")
  fi
  log "$n krills: ${k} ms"
done

per_krill=$(awk -v a="${krill_at[10]}" -v b="${krill_at[1000]}" 'BEGIN {printf "%.1f", (b - a) / 990}')
section=$(cat <<EOF2
## Helm chart

\`scripts/bench/chart.sh\` ($(date -u +%Y-%m-%d), helm $HELM_VERSION, $machine at the start,
shared with other jobs, so expect noise). Wall time of \`helm template\` for N named krills (each with its own model,
AGENTS.md and env; the median of 5 runs, 3 for 1000). Upstream: $upstream_name deploys one agent per
release, so N agents take N renders; ratio = upstream / krill for the same number of agents.

| krills | krill ms | objects | output KiB | upstream ms (N renders) | upstream / krill |
|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")

Each named krill renders 4 objects (StatefulSet, headless Service, ConfigMap, Secret) plus 14
shared ones. Most of the upstream figure is helm's own start-up (~100 ms a render), which a
one-release-per-agent chart pays per agent; krill pays it once, and each further krill costs
~${per_krill} ms of template work (slope between 10 and 1000). \`helm install\`/\`upgrade\` add API round trips on top: one GET per
generated Secret (\`lookup\`) and one LIST of StatefulSets per release.
EOF2
)
echo "$section"
bench_write_section "$section"
