{{/*
Object names. Every name the chart gives an object is derived here or in "krill.effective"
(_helpers-krill.tpl), never spelled out in a template.
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

{{/* `<chart>-<version>`, the value of the helm.sh/chart label. */}}
{{- define "krill.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "krill.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "krill.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The model proxy's Deployment, Service, ConfigMap, Secret, NetworkPolicy and PDB. */}}
{{- define "krill.apiServerName" -}}
{{- printf "%s-api-server" (include "krill.fullname" .) }}
{{- end }}

{{/* The development PostgreSQL's StatefulSet, Service, Secret and NetworkPolicy. */}}
{{- define "krill.postgresName" -}}
{{- printf "%s-postgres" (include "krill.fullname" .) }}
{{- end }}
