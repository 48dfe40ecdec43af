{{/*
The keeper's config (JSON): what it knows about this release, names only, never a secret: which
pods are krills, where each krill's gateway token lives and which key it presents to the model
endpoint (harness/keeper/src/config.rs reads it, refusing unknown fields).
*/}}
{{- define "krill.keeperConfig" -}}
{{- $full := include "krill.fullname" . }}
{{- $selector := include "krill.selectorLabels" . | fromYaml }}
{{- $podLabels := merge (dict "app.kubernetes.io/component" "krill") $selector }}
{{- $secretLabels := merge (dict "app.kubernetes.io/component" "krill" "app.kubernetes.io/part-of" "krill" "krill.dev/created-by" "keeper") $selector }}
{{- $named := dict }}
{{- range $name, $krill := .Values.krills }}
{{- $k := $krill | default dict }}
{{- $e := include "krill.effective" (dict "root" $ "full" $full "name" $name "krill" $k) | fromJson }}
{{- $token := $k.gatewayToken | default dict }}
{{- $entry := dict "statefulSet" $e.statefulSet "token" (dict "name" $e.tokenSecret "key" $e.tokenKey) "generate" (empty $token.existingSecret) }}
{{- with $e.proxyKey }}{{ $_ := set $entry "proxyKey" . }}{{ end }}
{{- $_ := set $named $name $entry }}
{{- end }}
{{- $fleet := dict "statefulSet" $full }}
{{- if .Values.gatewayToken.existingSecret }}
{{- $_ := set $fleet "existingSecret" .Values.gatewayToken.existingSecret }}
{{- else }}
{{- $_ := set $fleet "legacySecret" (printf "%s-gateway-tokens" $full) }}
{{- end }}
{{- $shared := include "krill.sharedProxyKey" . | fromJson }}
{{- $config := dict
  "namespace" .Release.Namespace
  "audience" (include "krill.keeperAudience" .)
  "krillServiceAccount" (include "krill.serviceAccountName" .)
  "podLabels" $podLabels
  "secretLabels" $secretLabels
  "fleet" $fleet
  "named" $named
  "proxyKey" (dict "secret" (dict "name" $shared.name "key" $shared.key) "generate" $shared.generate)
}}
{{- toJson $config }}
{{- end }}
