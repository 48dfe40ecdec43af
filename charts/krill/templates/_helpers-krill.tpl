{{/*
The effective settings of one krill: the fleet defaults with that krill's own overrides on top.
Input: dict root, full (the fullname), name ("" = the anonymous fleet), krill (its `krills:`
entry). Output: JSON, read back with fromJson. Everything a krill's objects depend on comes from
here (the krill-*.yaml templates and _validate.tpl read a krill through nothing else), so one
krill's objects depend only on the defaults and on its own entry.
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
  "reapplyContext" ((ternary ($k.reapplyContext | default "") $v.reapplyContext $named) | default "")
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

{{/*
Where KRILL_NAME comes from: a named krill's pod label, an anonymous pod's own name. Input: the
"krill.effective" settings.
*/}}
{{- define "krill.nameFieldPath" -}}
{{- if .named }}metadata.labels['krill.dev/name']{{ else }}metadata.name{{ end }}
{{- end }}
