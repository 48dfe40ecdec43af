{{/*
The Secret and key holding the proxy's DATABASE_URL as JSON {"name","key"}, or "" without a
database: the operator's Secret (external database) or the chart's `<fullname>-postgres`.
*/}}
{{- define "krill.databaseUrlSecret" -}}
{{- $d := .Values.apiServer.database }}
{{- if $d.existingSecret }}
{{- dict "name" $d.existingSecret "key" $d.existingSecretKey | toJson }}
{{- else if $d.postgres.enabled }}
{{- dict "name" (include "krill.postgresName" .) "key" "url" | toJson }}
{{- end }}
{{- end }}
