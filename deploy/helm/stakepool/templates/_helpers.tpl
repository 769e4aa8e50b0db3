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

{{/*
Where mqtt.tls.existingSecret is mounted. Not under /etc/stakepool: that is the ConfigMap's
read-only volume, and a mount inside it would hide a configFiles entry of the same name.
*/}}
{{- define "stakepool.mqttTlsDir" -}}
/etc/stakepool-mqtt-tls
{{- end -}}

{{/* Where validator client i's token is mounted (a directory per client, the file "token"). */}}
{{- define "stakepool.vcTokenDir" -}}
/etc/stakepool-vc
{{- end -}}

{{/*
The files of mqtt.tls.existingSecret the daemon uses, as a JSON list of {key, path, setting}: the
Secret's key, the file's fixed name in the mount, and the [mqtt] setting pointing at it. "[]"
without mqtt.tls.existingSecret.
*/}}
{{- define "stakepool.mqttTlsFiles" -}}
{{- $files := list -}}
{{- $tls := .Values.mqtt.tls -}}
{{- if $tls.existingSecret -}}
{{- $keys := $tls.keys -}}
{{- if ne (empty $keys.cert) (empty $keys.key) -}}
{{- fail "mqtt.tls.keys: cert and key go together (mutual TLS needs both); set both or neither to \"\"" -}}
{{- end -}}
{{- $url := dig "mqtt" "url" "" .Values.config -}}
{{- if hasPrefix "mqtt://" $url -}}
{{- fail (printf "mqtt.tls.existingSecret is set but config.mqtt.url %s is not mqtts://: the daemon would not use TLS" $url) -}}
{{- end -}}
{{- range $entry := list (list $keys.ca "ca.crt" "ca_file") (list $keys.cert "tls.crt" "cert_file") (list $keys.key "tls.key" "key_file") -}}
{{- if index $entry 0 -}}
{{- $files = append $files (dict "key" (index $entry 0) "path" (index $entry 1) "setting" (index $entry 2)) -}}
{{- end -}}
{{- end -}}
{{- if not $files -}}
{{- fail "mqtt.tls.existingSecret is set but mqtt.tls.keys names no file" -}}
{{- end -}}
{{- end -}}
{{- toJson $files -}}
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
{{- $config := deepCopy .Values.config -}}
{{- $tlsFiles := include "stakepool.mqttTlsFiles" . | fromJsonArray -}}
{{- if $tlsFiles -}}
{{- $mqtt := get $config "mqtt" | default dict -}}
{{- $_ := set $config "mqtt" $mqtt -}}
{{- range $tlsFiles -}}
{{- if not (hasKey $mqtt .setting) -}}
{{- $_ := set $mqtt .setting (printf "%s/%s" (include "stakepool.mqttTlsDir" $) .path) -}}
{{- end -}}
{{- end -}}
{{- end -}}
# Rendered by the stakepool Helm chart from its values; edit the values, not this file.
{{- range $section, $keys := $config }}

[{{ $section }}]
{{- range $key, $value := $keys }}
{{ $key }} = {{ include "stakepool.tomlValue" $value }}
{{- end }}
{{- end }}

[http]
host = {{ toJson .Values.listenAddress }}
port = {{ toJson .Values.containerPort }}
{{- range .Values.validatorClients }}

[[validator_client]]
name = {{ toJson .name }}
url = {{ toJson .url }}
token_file = {{ printf "%s/%s/token" (include "stakepool.vcTokenDir" $) .name | toJson }}
{{- with .timeoutSeconds }}
timeout_seconds = {{ toJson . }}
{{- end }}
{{- end }}
{{ end -}}

{{/*
"true" when the ledger is a PostgreSQL database (config.ledger.database, or a literal
STAKEPOOL_LEDGER__DATABASE in extraEnv), else "". A URL from a secretKeyRef cannot be seen at
render time: such a release is charted as SQLite (one replica, a volume).
*/}}
{{- define "stakepool.ledgerIsPostgresql" -}}
{{- $database := dig "ledger" "database" "" .Values.config | toString -}}
{{- range .Values.extraEnv -}}
{{- if and (eq .name "STAKEPOOL_LEDGER__DATABASE") .value -}}
{{- $database = .value -}}
{{- end -}}
{{- end -}}
{{- if or (hasPrefix "postgresql://" $database) (hasPrefix "postgres://" $database) -}}
true
{{- end -}}
{{- end -}}

{{/*
The Deployment's replicas: several only on a PostgreSQL ledger, where one fenced writer settles
and the others stand by. On SQLite a second pod would be a second writer of one file.
*/}}
{{- define "stakepool.replicas" -}}
{{- $replicas := int .Values.replicaCount -}}
{{- if and (dig "ledger" "read_urls" list .Values.config) (not (include "stakepool.ledgerIsPostgresql" .)) -}}
{{- fail "config.ledger.read_urls needs a PostgreSQL ledger: they name streaming replicas of config.ledger.database (a postgresql:// URL); a SQLite ledger has none" -}}
{{- end -}}
{{- if and (gt $replicas 1) (not (include "stakepool.ledgerIsPostgresql" .)) -}}
{{- fail (printf "replicaCount %d needs a PostgreSQL ledger: SQLite has one writer, one pod. Set config.ledger.database to a postgresql:// URL (its password in secrets.ledger_password; docs/several-hosts.md), or replicaCount to 1" $replicas) -}}
{{- end -}}
{{- $replicas -}}
{{- end -}}

{{/* Whether the chart creates a PodDisruptionBudget: podDisruptionBudget.enabled, or by default
when there are several replicas (with one, a budget would block every node drain). */}}
{{- define "stakepool.pdbEnabled" -}}
{{- $enabled := .Values.podDisruptionBudget.enabled -}}
{{- if kindIs "invalid" $enabled -}}
{{- $enabled = gt (int (include "stakepool.replicas" .)) 1 -}}
{{- end -}}
{{- if $enabled -}}
true
{{- end -}}
{{- end -}}
