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

{{/* The keeper's Deployment, Service, ConfigMap, ServiceAccount, Role and NetworkPolicy. */}}
{{- define "krill.keeperName" -}}
{{- printf "%s-keeper" (include "krill.fullname" .) }}
{{- end }}

{{/*
The keeper's ClusterRole and ClusterRoleBinding (TokenReviews are cluster-scoped): named after
release and namespace, so two releases of the same name in two namespaces never share one.
*/}}
{{- define "krill.keeperClusterName" -}}
{{- printf "%s-%s-keeper" (include "krill.fullname" .) .Release.Namespace }}
{{- end }}

{{/*
The audience of the token each krill pod presents to the keeper: this release's keeper alone
accepts it, and the API server does not.
*/}}
{{- define "krill.keeperAudience" -}}
{{- printf "krill-keeper:%s:%s" .Release.Namespace (include "krill.fullname" .) }}
{{- end }}

{{/* Where krill pods reach the keeper. */}}
{{- define "krill.keeperUrl" -}}
{{- printf "http://%s.%s.svc.%s:8080" (include "krill.keeperName" .) .Release.Namespace .Values.clusterDomain }}
{{- end }}

{{/*
The key krills present to their model endpoint by default, as JSON {name, key, generate}: the
proxy's master key (created once by the keeper unless the user brings one), or `apiKey` for an
endpoint outside the cluster.
*/}}
{{- define "krill.sharedProxyKey" -}}
{{- $v := .Values }}
{{- if $v.apiServer.enabled }}
{{- if $v.apiServer.masterKey.existingSecret }}
{{- dict "name" $v.apiServer.masterKey.existingSecret "key" $v.apiServer.masterKey.existingSecretKey "generate" false | toJson }}
{{- else }}
{{- dict "name" (printf "%s-master-key" (include "krill.fullname" .)) "key" "master-key" "generate" true | toJson }}
{{- end }}
{{- else }}
{{- dict "name" ($v.apiKey.existingSecret | default (printf "%s-secrets" (include "krill.fullname" .))) "key" (ternary $v.apiKey.existingSecretKey "api-key" (not (empty $v.apiKey.existingSecret))) "generate" false | toJson }}
{{- end }}
{{- end }}

{{/* The development PostgreSQL's StatefulSet, Service, Secret and NetworkPolicy. */}}
{{- define "krill.postgresName" -}}
{{- printf "%s-postgres" (include "krill.fullname" .) }}
{{- end }}
