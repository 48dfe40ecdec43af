{{/*
A generated secret value (base64), read back from the cluster when it exists, so tokens and keys
survive `helm upgrade`. (`helm template` cannot look anything up and prints fresh values.) Input:
dict namespace, secret, key.
*/}}
{{- define "krill.keptValue" -}}
{{- $existing := lookup "v1" "Secret" .namespace .secret }}
{{- if and $existing (hasKey ($existing.data | default dict) .key) }}
{{- index $existing.data .key }}
{{- else }}
{{- randAlphaNum 48 | b64enc }}
{{- end }}
{{- end }}
