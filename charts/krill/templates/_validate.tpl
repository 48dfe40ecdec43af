{{/*
Every check of the values that values.schema.json cannot express, in one place: each `fail` of the
chart is here. Included once, from validate.yaml; templates may assume the values passed.
The checks run in the order helm used to meet them in the templates, so a values file with two
mistakes reports the same one first.
*/}}
{{- define "krill.validate" -}}
{{- $v := .Values }}
{{- $full := include "krill.fullname" . }}
{{- include "krill.validate.literalSecrets" (dict "path" "config" "value" $v.config) }}
{{- if and (not $v.apiBase) (not $v.apiServer.enabled) }}
{{- fail "apiBase: must be set when apiServer.enabled is false (the krills need a model endpoint)" }}
{{- end }}
{{- if and $v.apiBase $v.apiServer.enabled }}
{{- fail (printf "apiBase: %q is set while apiServer.enabled is true: the krills would send the proxy's master key to it. Unset apiBase to use the in-cluster proxy (point a model at another endpoint with apiServer.models[].apiBase), or set apiServer.enabled=false and give that endpoint's own key in apiKey" $v.apiBase) }}
{{- end }}
{{- $servedModels := list }}
{{- range $v.apiServer.models }}{{ $servedModels = append $servedModels .name }}{{ end }}
{{- $units := list (dict "name" "" "krill" dict) }}
{{- range $name, $krill := $v.krills }}
{{- $units = append $units (dict "name" $name "krill" $krill) }}
{{- end }}
{{- range $units }}
{{- $e := include "krill.effective" (dict "root" $ "full" $full "name" .name "krill" .krill) | fromJson }}
{{- if gt (len $e.statefulSet) 52 }}
{{- fail (printf "krills.%s: the StatefulSet name %q is longer than 52 characters (pod and volume names must fit); use a shorter name" $e.name $e.statefulSet) }}
{{- end }}
{{- if $v.apiServer.enabled }}
{{- if not (has $e.model $servedModels) }}
{{- fail (printf "%s: model %q is not served by the proxy (apiServer.models names: %s)" (ternary (printf "krills.%s.model" $e.name) "model" $e.named) $e.model (join ", " $servedModels)) }}
{{- end }}
{{- end }}
{{- include "krill.validate.literalSecrets" (dict "path" (printf "krills.%s.config" $e.name) "value" ($e.overrides | fromJson)) }}
{{- if and $e.initClaw $e.initClaw.objectStore (not $v.snapshots.objectStore.bucket) }}
{{- fail (printf "%s.objectStore: an initClaw from a bucket needs snapshots.objectStore (bucket, endpoint, existingSecret): the bucket and its credentials are set there" (ternary (printf "krills.%s.initClaw" $e.name) "initClaw" $e.named)) }}
{{- end }}
{{- end }}
{{- with $v.snapshots.objectStore }}
{{- if and .bucket (not .existingSecret.name) }}
{{- fail (printf "snapshots.objectStore: bucket %q is set without existingSecret.name; create a Secret with the access key id and secret access key (keys %s and %s) and name it there: the chart never renders storage credentials" .bucket .existingSecret.accessKeyIdKey .existingSecret.secretAccessKeyKey) }}
{{- end }}
{{- if and (not .bucket) (or .endpoint .existingSecret.name .egressTo) }}
{{- fail "snapshots.objectStore: endpoint, existingSecret or egressTo is set but bucket is empty; set bucket to make copies off the node, or unset the others" }}
{{- end }}
{{- end }}
{{- if and (not $v.apiServer.enabled) (not $v.apiKey.existingSecret) (not $v.apiKey.value) }}
{{- fail "apiKey: set apiKey.value or apiKey.existingSecret when apiServer.enabled is false" }}
{{- end }}
{{- $db := $v.apiServer.database }}
{{- if and $db.existingSecret $db.postgres.enabled }}
{{- fail (printf "apiServer.database: existingSecret %q and postgres.enabled are both set; use one database: the external one (unset postgres.enabled) or the chart's development PostgreSQL (unset existingSecret)" $db.existingSecret) }}
{{- end }}
{{- if and (or $db.existingSecret $db.postgres.enabled) (not $v.apiServer.enabled) }}
{{- fail "apiServer.database: a database is configured but apiServer.enabled is false; the database serves the proxy's virtual keys: set apiServer.enabled=true or remove apiServer.database" }}
{{- end }}
{{- if $v.apiServer.enabled }}
{{- include "krill.validate.literalSecrets" (dict "path" "apiServer.extraConfig" "value" $v.apiServer.extraConfig) }}
{{- range $i, $m := $v.apiServer.models }}
{{- include "krill.validate.literalSecrets" (dict "path" (printf "apiServer.models[%d].extraParams" $i) "value" ($m.extraParams | default dict)) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Secrets reach OpenClaw only as ${VAR} references resolved from the environment, and LiteLLM only
as os.environ/VAR; whatever else a config holds lands in a ConfigMap, readable by anyone who can
read ConfigMaps. Refuses, naming the key path: a string under a key that names a credential (API
keys, tokens, passwords, secrets, Authorization / x-api-key headers, private and secret access
keys, inline credentials) unless it is a reference (`Bearer ${VAR}` counts); anywhere, a PEM
private key, a service-account JSON, or a URL with a password in it.
Input: dict path (where the value sits in the values), value (any YAML value).
*/}}
{{- define "krill.validate.literalSecrets" -}}
{{- $path := .path }}
{{- if kindIs "map" .value }}
{{- range $key, $child := .value }}
{{- include "krill.validate.literalSecrets" (dict "path" (printf "%s.%s" $path $key) "value" $child "key" $key) }}
{{- end }}
{{- else if kindIs "slice" .value }}
{{- range $i, $child := .value }}
{{- include "krill.validate.literalSecrets" (dict "path" (printf "%s[%d]" $path $i) "value" $child "key" ($.key | default "")) }}
{{- end }}
{{- else if kindIs "string" .value }}
{{- $value := .value }}
{{- $reference := `^((Bearer|Basic|Token) )?(\$\{[A-Za-z_][A-Za-z0-9_]*\}|os\.environ/[A-Za-z_][A-Za-z0-9_]*)$` }}
{{- $credentialKey := `(?i)(api[-_]?key|token|password|passwd|secret|master[-_]?key|authorization|private[-_]?key|secret[-_]?(access[-_]?)?key|credentials?)$` }}
{{- $fix := "use a ${VAR} (OpenClaw) or os.environ/VAR (LiteLLM) reference and put the value in a Secret" }}
{{- if and (regexMatch $credentialKey (.key | default "")) (ne $value "") (not (regexMatch $reference $value)) }}
{{- fail (printf "%s holds a literal secret; %s" $path $fix) }}
{{- end }}
{{- if regexMatch `-----BEGIN [A-Z ]*PRIVATE KEY-----` $value }}
{{- fail (printf "%s holds a private key; %s" $path $fix) }}
{{- end }}
{{- if regexMatch `"private_key"\s*:` $value }}
{{- fail (printf "%s holds a service-account key (JSON with private_key); mount it from a Secret instead" $path) }}
{{- end }}
{{- if regexMatch `^[A-Za-z][A-Za-z0-9+.-]*://[^/@\s:]+:([^/@\s$][^/@\s]*)@` $value }}
{{- fail (printf "%s holds a URL with a password in it; %s" $path $fix) }}
{{- end }}
{{- end }}
{{- end }}
