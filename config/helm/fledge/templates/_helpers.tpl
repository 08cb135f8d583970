{{/* The chart's name: the app.kubernetes.io/name label, and the job label of the metrics. */}}
{{- define "fledge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release's, with the chart's name in it. */}}
{{- define "fledge.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else if contains (include "fledge.name" .) .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "fledge.name" .) | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "fledge.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "fledge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fledge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fledge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: manager
{{- end }}

{{- define "fledge.serviceAccountName" -}}
{{ include "fledge.fullname" . }}-manager
{{- end }}

{{- define "fledge.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end }}

{{/* Whether the metrics endpoint asks the API server who calls it (TokenReview, SubjectAccessReview). */}}
{{/* The namespaces a namespace-scoped install watches, comma-separated; empty for a cluster-wide one. */}}
{{- define "fledge.watchedNamespaces" -}}
{{- $namespaces := .Values.watchNamespaces -}}
{{- if and $namespaces .Values.defaultAlertProvider -}}
{{- $namespaces = append $namespaces (first (splitList "/" .Values.defaultAlertProvider)) -}}
{{- end -}}
{{- join "," (uniq $namespaces) -}}
{{- end -}}

{{- define "fledge.metricsSecure" -}}
{{- if and .Values.metrics.enabled .Values.metrics.secure }}true{{ end }}
{{- end }}

{{/* The Secret of the metrics serving certificate, or "" when the manager signs its own. */}}
{{- define "fledge.metricsCertSecret" -}}
{{- if .Values.metrics.certificate.certManager.enabled -}}
{{ include "fledge.fullname" . }}-metrics-cert
{{- else -}}
{{ .Values.metrics.certificate.secretName }}
{{- end -}}
{{- end -}}
