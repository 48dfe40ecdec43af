{{/*
Copies off the node (snapshots.objectStore): what the snapshot sidecar and the fetch-init-claw
init container are told, and the one port the NetworkPolicy opens. The credentials are
secretKeyRefs in those two containers only: the krill container, where the agent runs shell tools,
never gets them (docs/security.md).
*/}}

{{/* The env entries (a YAML list, indented by the caller) for a container that talks to the bucket. */}}
{{- define "krill.objectStore.env" -}}
{{- $o := .Values.snapshots.objectStore -}}
- name: KRILL_RELEASE
  value: {{ .Release.Name | quote }}
- name: KRILL_OBJECT_STORE_BUCKET
  value: {{ $o.bucket | quote }}
{{- with $o.endpoint }}
- name: KRILL_OBJECT_STORE_ENDPOINT
  value: {{ trimSuffix "/" . | quote }}
{{- end }}
- name: KRILL_OBJECT_STORE_REGION
  value: {{ $o.region | quote }}
- name: KRILL_OBJECT_STORE_PREFIX
  value: {{ $o.prefix | quote }}
- name: KRILL_OBJECT_STORE_FORCE_PATH_STYLE
  value: {{ $o.forcePathStyle | quote }}
- name: KRILL_OBJECT_STORE_KEEP
  value: {{ $o.keep | quote }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ $o.existingSecret.name }}
      key: {{ $o.existingSecret.accessKeyIdKey }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $o.existingSecret.name }}
      key: {{ $o.existingSecret.secretAccessKeyKey }}
{{- end }}

{{/* The storage endpoint's TCP port: the URL's own, else the scheme's (AWS: 443). */}}
{{- define "krill.objectStore.port" -}}
{{- $endpoint := .Values.snapshots.objectStore.endpoint | default "https://s3.amazonaws.com" -}}
{{- $u := urlParse $endpoint -}}
{{- $hostPort := splitList ":" $u.host -}}
{{- if gt (len $hostPort) 1 -}}
{{- last $hostPort -}}
{{- else -}}
{{- ternary "80" "443" (eq $u.scheme "http") -}}
{{- end -}}
{{- end }}

{{/*
The object a krill's initClaw names, as `krill fetch-init-claw` reads it: s3://bucket/key, or
s3://bucket/[prefix/]release/krill/latest for a krill's newest copy. Input: dict root, e.
*/}}
{{- define "krill.initClawObject" -}}
{{- $o := .root.Values.snapshots.objectStore -}}
{{- $src := .e.initClaw.objectStore -}}
{{- if $src.key -}}
s3://{{ $o.bucket }}/{{ $src.key }}
{{- else -}}
s3://{{ $o.bucket }}/{{ with $o.prefix }}{{ . }}/{{ end }}{{ $src.release | default .root.Release.Name }}/{{ $src.latestOf }}/latest
{{- end -}}
{{- end }}
