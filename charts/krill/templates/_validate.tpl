{{/*
Every check of the values that values.schema.json cannot express, in one place: each `fail` of the
chart is here. Included once, from validate.yaml; templates may assume the values passed.
The checks run in the order helm used to meet them in the templates, so a values file with two
mistakes reports the same one first.
*/}}
{{- define "krill.validate" -}}
{{- $v := .Values }}
{{- $full := include "krill.fullname" . }}
{{- include "krill.validate.literalSecrets" (dict "where" "config" "json" (toJson $v.config)) }}
{{- if and (not $v.apiBase) (not $v.apiServer.enabled) }}
{{- fail "apiBase: must be set when apiServer.enabled is false (the krills need a model endpoint)" }}
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
{{- if and $v.apiServer.enabled (not $v.apiBase) }}
{{- if not (has $e.model $servedModels) }}
{{- fail (printf "%s: model %q is not served by the proxy (apiServer.models names: %s)" (ternary (printf "krills.%s.model" $e.name) "model" $e.named) $e.model (join ", " $servedModels)) }}
{{- end }}
{{- end }}
{{- include "krill.validate.literalSecrets" (dict "where" (printf "krills.%s.config" $e.name) "json" $e.overrides) }}
{{- end }}
{{- if and (not $v.apiServer.enabled) (not $v.apiKey.existingSecret) (not $v.apiKey.value) }}
{{- fail "apiKey: set apiKey.value or apiKey.existingSecret when apiServer.enabled is false" }}
{{- end }}
{{- if $v.apiServer.enabled }}
{{- include "krill.validate.literalSecrets" (dict "where" "apiServer" "json" (include "krill.apiServerConfig" . | fromYaml | toJson)) }}
{{- end }}
{{- end }}

{{/*
Secrets reach OpenClaw only as ${VAR} references resolved from the environment, and LiteLLM only
as os.environ/VAR. A config value under a secret-looking key that is not such a reference would
land in a ConfigMap: refuse it. Input: dict where (named in the message), json (the config).
*/}}
{{- define "krill.validate.literalSecrets" -}}
{{- range regexFindAll `"[A-Za-z_]*(?i:apikey|api_key|token|password|secret|master_key)":"[^"]*"` .json -1 }}
{{- $key := regexFind `^"[^"]*"` . }}
{{- $value := trimPrefix $key . | trimPrefix ":\"" | trimSuffix "\"" }}
{{- if not (or (eq $value "") (hasPrefix "${" $value) (hasPrefix "os.environ/" $value)) }}
{{- fail (printf "%s: %s holds a literal secret; use a ${VAR} (OpenClaw) or os.environ/VAR (LiteLLM) reference and put the value in a Secret" $.where $key) }}
{{- end }}
{{- end }}
{{- end }}
