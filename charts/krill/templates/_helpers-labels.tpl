{{/*
Labels. Selectors use only labels that never change for the life of an object (they are
immutable); metadata carries the standard set on top.
*/}}

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

{{/*
The identity labels of one object: a base set ("krill.labels" or "krill.selectorLabels", rendered
once by the caller: a fleet of 1000 krills would otherwise render them 4000 times), then its
component, then which krill it belongs to. Input: dict
  base       the rendered base labels
  component  app.kubernetes.io/component ("" = none: a named krill's Service selects by name)
  name       krill.dev/name ("" = not one named krill's object)
  anonymous  true: krill.dev/anonymous: "true" when name is "" (pods of the anonymous fleet and
             their selector, so a fleet never selects a named krill's pods)
*/}}
{{- define "krill.identityLabels" -}}
{{ .base }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
{{- if .name }}
krill.dev/name: {{ .name }}
{{- else if .anonymous }}
krill.dev/anonymous: "true"
{{- end }}
{{- end }}
