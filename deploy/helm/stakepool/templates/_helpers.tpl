{{/* The chart name, shortened to a DNS label. */}}
{{- define "stakepool.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: "<release>-stakepool", or the release name when it already says stakepool. */}}
{{- define "stakepool.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "stakepool.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "stakepool.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stakepool.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "stakepool.labels" -}}
helm.sh/chart: {{ include "stakepool.chart" . }}
{{ include "stakepool.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: stakepool
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "stakepool.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "stakepool.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "stakepool.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The Secret mounted as $CREDENTIALS_DIRECTORY, or "" when the daemon gets no secrets. */}}
{{- define "stakepool.secretName" -}}
{{- if and .Values.existingSecret .Values.secrets -}}
{{- fail "set either secrets or existingSecret, not both" -}}
{{- else if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else if .Values.secrets -}}
{{- include "stakepool.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "stakepool.claimName" -}}
{{- default (include "stakepool.fullname" .) .Values.persistence.existingClaim -}}
{{- end -}}

{{/*
One TOML value from a values node. Helm reads numbers in values as floats, and its toToml would
write `fee_bps = 1000.0` (and validator index 1042.0), which the daemon rightly rejects; toJson
writes numbers as given, and JSON strings, numbers, booleans and arrays are valid TOML values.
*/}}
{{- define "stakepool.tomlValue" -}}
{{- if kindIs "map" . -}}
{{- $items := list -}}
{{- range $key, $value := . -}}
{{- $items = append $items (printf "%s = %s" (toJson $key) (include "stakepool.tomlValue" $value)) -}}
{{- end -}}
{{- printf "{%s}" (join ", " $items) -}}
{{- else if kindIs "slice" . -}}
{{- $items := list -}}
{{- range . -}}
{{- $items = append $items (include "stakepool.tomlValue" .) -}}
{{- end -}}
{{- printf "[%s]" (join ", " $items) -}}
{{- else if kindIs "invalid" . -}}
{{- fail "config: a null value cannot be written to TOML; leave the key out instead" -}}
{{- else -}}
{{- toJson . -}}
{{- end -}}
{{- end -}}

{{/* config.toml: the config sections from values, then the chart's own [http] section. */}}
{{- define "stakepool.configToml" -}}
# Rendered by the stakepool Helm chart from its values; edit the values, not this file.
{{- range $section, $keys := .Values.config }}

[{{ $section }}]
{{- range $key, $value := $keys }}
{{ $key }} = {{ include "stakepool.tomlValue" $value }}
{{- end }}
{{- end }}

[http]
host = {{ toJson .Values.listenAddress }}
port = {{ toJson .Values.containerPort }}
{{ end -}}
