{{/* The chart's name (app.kubernetes.io/name, also the Prometheus job). */}}
{{- define "cle.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The resources' name: <release>-<chart>, or the release alone when it has the chart's name. */}}
{{- define "cle.fullname" -}}
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

{{- define "cle.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cle.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cle.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "cle.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cle.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cle.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* How many pods the release runs. */}}
{{- define "cle.pods" -}}
{{- if .Values.sharding.enabled }}{{ .Values.sharding.shards }}{{ else }}{{ .Values.replicaCount }}{{ end }}
{{- end }}

{{- define "cle.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The exporter's configuration file, as rendered into the Secret (and hashed):
  config.file, with prometheusRule.runbookBaseUrl as status_page.runbook_base_url (so the
  status page links the same runbooks as the alerts) unless config.file sets that key. */}}
{{- define "cle.configFile" -}}
{{- $file := deepCopy .Values.config.file }}
{{- with .Values.prometheusRule.runbookBaseUrl }}
{{- $page := get $file "status_page" | default dict }}
{{- if not (hasKey $page "runbook_base_url") }}
{{- $_ := set $page "runbook_base_url" . }}
{{- $_ := set $file "status_page" $page }}
{{- end }}
{{- end }}
{{ toYaml $file }}
{{- end }}

{{- define "cle.configSecretName" -}}
{{- default (include "cle.fullname" .) .Values.config.existingSecret }}
{{- end }}

{{/* True when the exporter runs with --web.config.file. */}}
{{- define "cle.webEnabled" -}}
{{- if or .Values.web.tls.enabled .Values.web.basicAuth.users .Values.web.extraConfig .Values.web.existingSecret }}true{{ end }}
{{- end }}

{{/* The web configuration file (exporter-toolkit format). */}}
{{- define "cle.webConfigFile" -}}
{{- $web := dict }}
{{- if .Values.web.tls.enabled }}
{{- $tls := dict "cert_file" "/etc/cluster-link-exporter/tls/tls.crt" "key_file" "/etc/cluster-link-exporter/tls/tls.key" "client_auth_type" .Values.web.tls.clientAuthType "min_version" .Values.web.tls.minVersion }}
{{- if .Values.web.tls.clientCAKey }}
{{- $_ := set $tls "client_ca_file" (printf "/etc/cluster-link-exporter/tls/%s" .Values.web.tls.clientCAKey) }}
{{- end }}
{{- $_ := set $web "tls_server_config" $tls }}
{{- end }}
{{- if .Values.web.basicAuth.users }}
{{- $_ := set $web "basic_auth_users" .Values.web.basicAuth.users }}
{{- end }}
{{- toYaml (mergeOverwrite $web (deepCopy .Values.web.extraConfig)) }}
{{- end }}

{{/* The probes' handler kind: httpGet or tcpSocket. */}}
{{- define "cle.probeMode" -}}
{{- if ne .Values.probes.mode "auto" }}{{ .Values.probes.mode }}
{{- else if and .Values.web.basicAuth.users (not .Values.probes.basicAuth.username) }}tcpSocket
{{- else if and .Values.web.tls.enabled (has .Values.web.tls.clientAuthType (list "RequireAnyClientCert" "RequireAndVerifyClientCert")) }}tcpSocket
{{- else }}httpGet
{{- end }}
{{- end }}

{{- define "cle.probeHandler" -}}
{{- $ctx := index . 0 }}
{{- $path := index . 1 }}
{{- if eq (include "cle.probeMode" $ctx) "tcpSocket" }}
tcpSocket:
  port: metrics
{{- else }}
httpGet:
  path: {{ $path }}
  port: metrics
  scheme: {{ ternary "HTTPS" "HTTP" $ctx.Values.web.tls.enabled }}
  {{- if $ctx.Values.probes.basicAuth.username }}
  httpHeaders:
    - name: Authorization
      value: {{ printf "Basic %s" (printf "%s:%s" $ctx.Values.probes.basicAuth.username $ctx.Values.probes.basicAuth.password | b64enc) | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/* Value combinations the schema cannot express; each names its keys. */}}
{{- define "cle.validate" -}}
{{- if and .Values.sharding.enabled (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount must be 1 with sharding.enabled (the pods are sharding.shards shards); for HA shards install two releases" }}
{{- end }}
{{- if and .Values.web.tls.enabled (not .Values.web.tls.secretName) }}
{{- fail "web.tls.secretName is required with web.tls.enabled (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- if and .Values.web.tls.enabled (has .Values.web.tls.clientAuthType (list "VerifyClientCertIfGiven" "RequireAndVerifyClientCert")) (not .Values.web.tls.clientCAKey) }}
{{- fail (printf "web.tls.clientCAKey is required with web.tls.clientAuthType %s" .Values.web.tls.clientAuthType) }}
{{- end }}
{{- if and .Values.probes.basicAuth.username (not .Values.probes.basicAuth.password) }}
{{- fail "probes.basicAuth.password is required with probes.basicAuth.username" }}
{{- end }}
{{- if and (or .Values.prometheusRule.enabled .Values.serviceMonitor.enabled) (not (contains "cluster-link-exporter" (include "cle.name" .))) }}
{{- fail (printf "nameOverride %q: the ServiceMonitor's job is the app.kubernetes.io/name label, and the shipped rules select jobs matching .*cluster-link-exporter.*" .Values.nameOverride) }}
{{- end }}
{{- if and (not .Values.config.existingSecret) (not .Values.config.file) }}
{{- fail "config.file (the exporter's configuration) or config.existingSecret is required" }}
{{- end }}
{{- end }}
