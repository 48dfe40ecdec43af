{{/*
Shared names and labels. Each template file renders one kind of object; what they share lives
here and nowhere else.
*/}}

{{- define "krill.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Standard fullname: the release name when it already contains the chart name (so `helm install
krill` gives `krill`, `krill-0`, `krill-api-server`), else `<release>-<chart>`.
*/}}
{{- define "krill.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "krill.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels that never change for the life of an object: used in selectors (immutable). */}}
{{- define "krill.selectorLabels" -}}
app.kubernetes.io/name: {{ include "krill.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels on every object's metadata. */}}
{{- define "krill.labels" -}}
helm.sh/chart: {{ include "krill.chart" . }}
{{ include "krill.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: krill
{{- end }}

{{- define "krill.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "krill.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "krill.apiServerName" -}}
{{- printf "%s-api-server" (include "krill.fullname" .) }}
{{- end }}

{{/* OPENCLAW_API_BASE: explicit value, else the in-cluster proxy. */}}
{{- define "krill.apiBase" -}}
{{- if .Values.apiBase }}
{{- .Values.apiBase }}
{{- else if .Values.apiServer.enabled }}
{{- printf "http://%s:4000/v1" (include "krill.apiServerName" .) }}
{{- else }}
{{- fail "apiBase: must be set when apiServer.enabled is false (the krills need a model endpoint)" }}
{{- end }}
{{- end }}

{{/* The OpenClaw config template, exactly as written into the ConfigMap. */}}
{{- define "krill.configTemplate" -}}
{{- include "krill.refuseLiteralSecrets" (dict "where" "config" "json" (toJson .Values.config)) }}
{{- toPrettyJson .Values.config }}
{{- end }}

{{/*
Secrets reach OpenClaw only as ${VAR} references resolved from the environment. A config value
under a secret-looking key that is not such a reference would land in a ConfigMap: refuse it.
*/}}
{{- define "krill.refuseLiteralSecrets" -}}
{{- range regexFindAll `"[A-Za-z_]*(?i:apikey|api_key|token|password|secret|master_key)":"[^"]*"` .json -1 }}
{{- $key := regexFind `^"[^"]*"` . }}
{{- $value := trimPrefix $key . | trimPrefix ":\"" | trimSuffix "\"" }}
{{- if not (or (eq $value "") (hasPrefix "${" $value) (hasPrefix "os.environ/" $value)) }}
{{- fail (printf "%s: %s holds a literal secret; use a ${VAR} (OpenClaw) or os.environ/VAR (LiteLLM) reference and put the value in a Secret" $.where $key) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The effective settings of one krill: the fleet defaults with that krill's own overrides on top.
Input: dict root, full (the fullname), name ("" = the anonymous fleet), krill (its `krills:`
entry). Output: JSON, read back with fromJson. Everything a krill's objects depend on comes from
here, so one krill's objects depend only on the defaults and on its own entry.
*/}}
{{- define "krill.effective" -}}
{{- $v := .root.Values }}
{{- $k := .krill | default dict }}
{{- $full := .full }}
{{- $named := ne .name "" }}
{{- $base := ternary (printf "%s-%s" $full .name) $full $named }}
{{- $image := $k.image | default dict }}
{{- $persistence := $k.persistence | default dict }}
{{- $token := $k.gatewayToken | default dict }}
{{- if and (not $named) (not $token.existingSecret) }}{{ $token = $v.gatewayToken }}{{ end }}
{{- $envByName := dict }}
{{- $env := list }}
{{- range (concat ($v.env | default list) ($k.env | default list)) }}
{{- if not (hasKey $envByName .name) }}{{ $env = append $env .name }}{{ end }}
{{- $_ := set $envByName .name . }}
{{- end }}
{{- $e := dict
  "name" .name
  "named" $named
  "statefulSet" $base
  "configMap" (printf "%s-config" $base)
  "secret" (printf "%s-secrets" $base)
  "model" ($k.model | default $v.model)
  "agentsMd" ((ternary $k.agentsMd $v.agentsMd (hasKey $k "agentsMd")) | default "")
  "initClaw" ((ternary ($k.initClaw | default dict) $v.initClaw $named) | default dict)
  "overrides" ($k.config | default dict | toJson)
  "resources" (ternary $k.resources $v.resources (hasKey $k "resources"))
  "image" (printf "%s:%s" ($image.repository | default $v.image.repository) ($image.tag | default $v.image.tag | default .root.Chart.AppVersion))
  "size" ($persistence.size | default $v.persistence.size)
  "storageClassName" ($persistence.storageClassName | default $v.persistence.storageClassName)
  "tokenSecret" ($token.existingSecret | default (printf (ternary "%s-secrets" "%s-gateway-tokens" $named) $base))
  "tokenKey" (ternary ($token.existingSecretKey | default "gateway-token") "gateway-token" (not (empty $token.existingSecret)))
  "paused" ($k.paused | default false)
  "podAnnotations" ($k.podAnnotations | default dict)
}}
{{- $orderedEnv := list }}
{{- range $env }}{{ $orderedEnv = append $orderedEnv (get $envByName .) }}{{ end }}
{{- $_ := set $e "env" $orderedEnv }}
{{- $proxyKey := $k.proxyKey | default dict }}
{{- if $proxyKey.existingSecret }}
{{- $_ := set $e "apiKeySecret" $proxyKey.existingSecret }}
{{- $_ := set $e "apiKeyKey" ($proxyKey.existingSecretKey | default "api-key") }}
{{- else if $v.apiServer.enabled }}
{{- $_ := set $e "apiKeySecret" ($v.apiServer.masterKey.existingSecret | default (printf "%s-api-server" $full)) }}
{{- $_ := set $e "apiKeyKey" (ternary $v.apiServer.masterKey.existingSecretKey "master-key" (not (empty $v.apiServer.masterKey.existingSecret))) }}
{{- else }}
{{- $_ := set $e "apiKeySecret" ($v.apiKey.existingSecret | default (printf "%s-secrets" $full)) }}
{{- $_ := set $e "apiKeyKey" (ternary $v.apiKey.existingSecretKey "api-key" (not (empty $v.apiKey.existingSecret))) }}
{{- end }}
{{- toJson $e }}
{{- end }}

{{/* Data of a krill's own ConfigMap (also hashed into that krill's pod annotation). */}}
{{- define "krill.ownConfigData" -}}
{{- if .e.named }}
{{ printf "%s.json" .e.name }}: {{ .e.overrides | quote }}
{{- end }}
{{- if .e.agentsMd }}
AGENTS.md: {{ .e.agentsMd | quote }}
{{- end }}
{{- end }}

{{/* Pod-level security shared by every pod of the chart (Pod Security "restricted"). */}}
{{- define "krill.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "krill.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
{{- end }}

{{/*
LiteLLM config: model list with keys as os.environ/VAR references, master key from the
environment. Hashed into the proxy's pod annotation.
*/}}
{{- define "krill.apiServerConfig" -}}
{{- $models := list }}
{{- range .Values.apiServer.models }}
{{- $params := dict "model" .model }}
{{- with .apiBase }}{{ $_ := set $params "api_base" . }}{{ end }}
{{- with .apiKeyEnv }}{{ $_ := set $params "api_key" (printf "os.environ/%s" .) }}{{ end }}
{{- $models = append $models (dict "model_name" .name "litellm_params" (merge $params (.extraParams | default dict))) }}
{{- end }}
{{- $config := dict "model_list" $models "general_settings" (dict "master_key" "os.environ/LITELLM_MASTER_KEY") }}
{{- $config = mergeOverwrite $config (deepCopy .Values.apiServer.extraConfig) }}
{{- include "krill.refuseLiteralSecrets" (dict "where" "apiServer" "json" (toJson $config)) }}
{{- toYaml $config }}
{{- end }}

{{/* A generated secret value (base64), read back from the cluster when it exists. */}}
{{- define "krill.keptValue" -}}
{{- $existing := lookup "v1" "Secret" .namespace .secret }}
{{- if and $existing (hasKey ($existing.data | default dict) .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum 48 | b64enc }}
{{- end }}
{{- end }}
