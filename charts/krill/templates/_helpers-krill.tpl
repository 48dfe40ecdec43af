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
  "tokenSecret" ($token.existingSecret | default (ternary (printf "%s-secrets" $base) "" $named))
  "tokenKey" (ternary ($token.existingSecretKey | default "gateway-token") "gateway-token" (not (empty $token.existingSecret)))
  "paused" ($k.paused | default false)
  "podAnnotations" ($k.podAnnotations | default dict)
}}
{{- $orderedEnv := list }}
{{- range $env }}{{ $orderedEnv = append $orderedEnv (get $envByName .) }}{{ end }}
{{- $_ := set $e "env" $orderedEnv }}
{{- /* A krill's own proxy key; without one the keeper hands out "krill.sharedProxyKey". */}}
{{- $proxyKey := $k.proxyKey | default dict }}
{{- if $proxyKey.existingSecret }}
{{- $_ := set $e "proxyKey" (dict "name" $proxyKey.existingSecret "key" ($proxyKey.existingSecretKey | default "api-key")) }}
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
