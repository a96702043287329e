{{/* Name prefix of every object: the release name. */}}
{{- define "trellis.fullname" -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object; "component" tells the services apart. */}}
{{- define "trellis.labels" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" . "component" "sfu"). */}}
{{- define "trellis.selector" -}}
app.kubernetes.io/name: trellis
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Image of one Trellis service: call with (dict "ctx" . "service" "sfu"). */}}
{{- define "trellis.image" -}}
{{ .ctx.Values.image.repository }}/{{ .service }}:{{ .ctx.Values.image.tag | default .ctx.Chart.AppVersion }}
{{- end -}}

{{/* The Secret holding JWT_SECRET, TURN_SECRET, DATABASE_URL, WEBHOOK_SECRET, REDIS_URL, REDIS_PASSWORD. */}}
{{- define "trellis.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "trellis.fullname" .)) -}}
{{- end -}}

{{/* Env entries read from the Secret: call with (dict "ctx" . "keys" (list "JWT_SECRET")). */}}
{{- define "trellis.secretEnv" -}}
{{- range .keys }}
- name: {{ . }}
  valueFrom:
    secretKeyRef:
      name: {{ include "trellis.secretName" $.ctx }}
      key: {{ . }}
{{- end }}
{{- end -}}

{{/* NODE_ID from the pod's name: unique in the cluster and stable for a StatefulSet pod. */}}
{{- define "trellis.nodeIdEnv" -}}
- name: NODE_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}
