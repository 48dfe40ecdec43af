{{/*
What the chart renders into ConfigMaps and environment: the OpenClaw config template, each krill's
own config, the LiteLLM config and the model endpoint. Nothing here is secret: secrets are ${VAR}
or os.environ/VAR references only (_validate.tpl refuses anything else).
*/}}

{{/* OPENCLAW_API_BASE: explicit value, else the in-cluster proxy (_validate.tpl requires one). */}}
{{- define "krill.apiBase" -}}
{{- if .Values.apiBase }}
{{- .Values.apiBase }}
{{- else if .Values.apiServer.enabled }}
{{- printf "http://%s:4000/v1" (include "krill.apiServerName" .) }}
{{- end }}
{{- end }}

{{/* The OpenClaw config template, exactly as written into the ConfigMap. */}}
{{- define "krill.configTemplate" -}}
{{- toPrettyJson .Values.config }}
{{- end }}

{{/*
Data of a krill's own ConfigMap (also hashed into that krill's pod annotation). Input: dict e (its
"krill.effective" settings).
*/}}
{{- define "krill.ownConfigData" -}}
{{- if .e.named }}
{{ printf "%s.json" .e.name }}: {{ .e.overrides | quote }}
{{- end }}
{{- if .e.agentsMd }}
AGENTS.md: {{ .e.agentsMd | quote }}
{{- end }}
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
{{- toYaml $config }}
{{- end }}
