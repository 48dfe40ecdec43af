# Talking to the krills of a release from this machine, through kubectl: which pod a krill
# name means, its gateway token, one chat turn, waiting for the fleet with progress, and the
# fleet's table. Sourced after scripts/lib/common.sh by scripts/dev, never executed.
#
# Callers set KRILLS_NS and KRILLS_RELEASE (the chart's fullname is the release name for the
# release `krill`) and have KUBECONFIG and kubectl ready.

KRILLS_NS=${KRILLS_NS:-krill}
KRILLS_RELEASE=${KRILLS_RELEASE:-krill}
# The chart's gateway port (charts/krill/values.yaml `port`).
KRILLS_PORT=${KRILLS_PORT:-18789}

krills_kubectl() { kubectl --namespace "$KRILLS_NS" "$@"; }

# krill_pod NAME: the pod of a krill. NAME is a fleet pod's name (krill-0) or a named krill's
# name (scout, whose pod is krill-scout-0). Fails with the krills there are when there is none.
krill_pod() {
  local name=$1 pod
  for pod in "$name" "$KRILLS_RELEASE-$name-0"; do
    if [[ $(krills_kubectl get pod "$pod" -o go-template='{{index .metadata.labels "app.kubernetes.io/component"}}' 2>/dev/null) == krill ]]; then
      echo "$pod"; return 0
    fi
  done
  die "no krill '$name' in namespace $KRILLS_NS; there are: $(krill_names | tr '\n' ' ')"
}

# krill_names: every krill of the release, one per line (named krills by name, fleet pods by pod).
krill_names() {
  krills_kubectl get pods -l "app.kubernetes.io/instance=$KRILLS_RELEASE,app.kubernetes.io/component=krill" \
    -o go-template='{{range .items}}{{with index .metadata.labels "krill.dev/name"}}{{.}}{{else}}{{.metadata.name}}{{end}}{{"\n"}}{{end}}'
}

# krill_token POD: the krill's gateway token, from the Secret the keeper made for it: one per fleet
# pod, and the named krill's own (docs/security.md).
krill_token() {
  local pod=$1 name secret key
  name=$(krills_kubectl get pod "$pod" -o go-template='{{index .metadata.labels "krill.dev/name"}}' 2>/dev/null || true)
  [[ $name == "<no value>" ]] && name=""
  if [[ -n $name ]]; then
    secret="$KRILLS_RELEASE-$name-secrets"
  else
    secret="$pod-gateway-token"
  fi
  key=gateway-token
  krills_kubectl get secret "$secret" -o go-template="{{index .data \"$key\" | base64decode}}" \
    || die "cannot read $pod's gateway token (Secret $KRILLS_NS/$secret, key $key)"
}

# The turn runs inside the krill's own container against its own gateway, so it needs neither a
# port-forward nor a route into the cluster; the token travels on stdin, never in a command line.
# shellcheck disable=SC2016
KRILL_CHAT_JS='
let input = "";
for await (const chunk of process.stdin) input += chunk;
const newline = input.indexOf("\n");
const [token, message] = [input.slice(0, newline), input.slice(newline + 1)];
const res = await fetch(process.argv[1], {
  method: "POST",
  headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
  body: JSON.stringify({ model: "openclaw/default", messages: [{ role: "user", content: message }] }),
  signal: AbortSignal.timeout(300000),
}).catch((err) => { console.error(`the gateway did not answer: ${err.cause ?? err}`); process.exit(1); });
const body = await res.text();
if (!res.ok) { console.error(`the gateway answered HTTP ${res.status}: ${body.slice(0, 2000)}`); process.exit(1); }
console.log(JSON.parse(body).choices?.[0]?.message?.content ?? body);
'

# krill_chat NAME MESSAGE: one turn through the krill's gateway; prints the agent's answer.
krill_chat() {
  local pod token
  pod=$(krill_pod "$1")
  token=$(krill_token "$pod")
  printf '%s\n%s' "$token" "$2" | krills_kubectl exec -i "$pod" -c krill -- \
    node --input-type=module -e "$KRILL_CHAT_JS" "http://127.0.0.1:$KRILLS_PORT/v1/chat/completions"
}

# krills_wait TIMEOUT_SECONDS: waits until every krill pod of the release and its proxy are
# Ready, printing a line whenever the count changes; on timeout, says which are not and why.
krills_wait() {
  local timeout=$1 start=$SECONDS last="" now ready total
  while :; do
    now=$(krills_kubectl get pods -l "app.kubernetes.io/instance=$KRILLS_RELEASE" -o go-template='{{range .items}}{{.metadata.name}} {{range .status.conditions}}{{if eq .type "Ready"}}{{.status}}{{end}}{{end}}{{"\n"}}{{end}}' 2>/dev/null || true)
    total=$(grep -c . <<<"$now" || true)
    ready=$(grep -c ' True$' <<<"$now" || true)
    if [[ "$ready/$total" != "$last" ]]; then
      log "pods ready: $ready/$total ($((SECONDS - start)) s)"
      last="$ready/$total"
    fi
    ((total > 0 && ready == total)) && return 0
    if ((SECONDS - start > timeout)); then
      log "not ready after ${timeout} s:"
      krills_kubectl get pods -l "app.kubernetes.io/instance=$KRILLS_RELEASE" -o wide >&2
      grep -v ' True$' <<<"$now" | while read -r pod _; do
        krills_kubectl describe pod "$pod" | sed -n '/^Events:/,$p' | tail -n 8 >&2
      done
      return 1
    fi
    sleep 3
  done
}

# krill_last_snapshot POD: "<time> (<size>)" of the krill's newest snapshot, "none yet", or
# "unknown (...)" when its snapshot container cannot be asked (not running yet, snapshots off).
krill_last_snapshot() {
  local listing newest
  listing=$(krills_kubectl exec "$1" -c snapshot -- \
    find /krill/snapshots -maxdepth 1 -name '*.claw' -printf '%TY-%Tm-%Td %TH:%TM %s\n' 2>&1) \
    || { echo "unknown ($(tail -n 1 <<<"$listing" | cut -c1-60))"; return; }
  newest=$(sort <<<"$listing" | tail -n 1)
  [[ -n $newest ]] || { echo "none yet"; return; }
  read -r day minute bytes <<<"$newest"
  echo "$day $minute ($((bytes / 1024)) KiB)"
}

# krills_table: one line per krill: name, DNS name, ready containers, model, last snapshot.
krills_table() {
  local rows name pod host subdomain ready total model
  rows=$(krills_kubectl get pods -l "app.kubernetes.io/instance=$KRILLS_RELEASE,app.kubernetes.io/component=krill" \
    -o go-template='{{range .items}}{{with index .metadata.labels "krill.dev/name"}}{{.}}{{else}}{{.metadata.name}}{{end}} {{.metadata.name}} {{.spec.hostname}} {{.spec.subdomain}} {{len .status.containerStatuses}} {{range .status.containerStatuses}}{{if .ready}}r{{end}}{{end}} {{range .spec.containers}}{{if eq .name "krill"}}{{range .env}}{{if eq .name "OPENCLAW_MODEL"}}{{.value}}{{end}}{{end}}{{end}}{{end}}{{"\n"}}{{end}}')
  {
    printf 'KRILL\tDNS NAME\tREADY\tMODEL\tLAST SNAPSHOT\n'
    while read -r name pod host subdomain total ready model; do
      [[ -n $name ]] || continue
      # `ready` is one "r" per ready container; an empty field shifts the model into its place.
      if [[ $ready != r* ]]; then model=$ready ready=""; fi
      printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$host.$subdomain.$KRILLS_NS.svc.cluster.local" \
        "${#ready}/$total" "${model:--}" "$(krill_last_snapshot "$pod")"
    done <<<"$rows"
  } | align_columns
}

# align_columns: tab-separated lines as a table with two spaces between columns.
align_columns() {
  awk -F'\t' '{ rows[NR] = $0; for (i = 1; i <= NF; i++) if (length($i) > w[i]) w[i] = length($i) }
    END { for (r = 1; r <= NR; r++) { n = split(rows[r], f, "\t"); line = ""
      for (i = 1; i < n; i++) line = line sprintf("%-" w[i] + 2 "s", f[i]); print line f[n] } }'
}
