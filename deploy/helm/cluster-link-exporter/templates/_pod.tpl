{{/* The pod template of the Deployment and of the StatefulSet. */}}
{{- define "cle.podTemplate" -}}
metadata:
  labels:
    {{- include "cle.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    {{- if not .Values.config.existingSecret }}
    # Pods roll when the configuration changes (and only then): see docs/deploy.md.
    checksum/config: {{ include "cle.configFile" . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "cle.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: exporter
      image: {{ include "cle.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config=/etc/cluster-link-exporter/config/config.yaml
        - --web.listen-address=:{{ .Values.web.port }}
        - --log.level={{ .Values.logLevel }}
        - --log.format={{ .Values.logFormat }}
        {{- if include "cle.webEnabled" . }}
        - --web.config.file=/etc/cluster-link-exporter/web/web-config.yml
        {{- end }}
        {{- if .Values.sharding.enabled }}
        - --shard=auto
        - --total-shards={{ .Values.sharding.shards }}
        {{- end }}
        {{- with .Values.extraArgs }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.extraEnv }}
      env:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.extraEnvFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: metrics
          containerPort: {{ .Values.web.port }}
          protocol: TCP
      livenessProbe:
        {{- include "cle.probeHandler" (list . "/-/healthy") | nindent 8 }}
        {{- toYaml .Values.probes.liveness | nindent 8 }}
      readinessProbe:
        {{- include "cle.probeHandler" (list . "/-/ready") | nindent 8 }}
        {{- toYaml .Values.probes.readiness | nindent 8 }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/cluster-link-exporter/config
          readOnly: true
        {{- if include "cle.webEnabled" . }}
        - name: web-config
          mountPath: /etc/cluster-link-exporter/web
          readOnly: true
        {{- end }}
        {{- if .Values.web.tls.enabled }}
        - name: web-tls
          mountPath: /etc/cluster-link-exporter/tls
          readOnly: true
        {{- end }}
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      secret:
        secretName: {{ include "cle.configSecretName" . }}
        defaultMode: 0440
        items:
          - key: {{ ternary .Values.config.existingSecretKey "config.yaml" (ne .Values.config.existingSecret "") }}
            path: config.yaml
    {{- if include "cle.webEnabled" . }}
    - name: web-config
      secret:
        secretName: {{ default (printf "%s-web" (include "cle.fullname" .)) .Values.web.existingSecret }}
        defaultMode: 0440
        items:
          - key: web-config.yml
            path: web-config.yml
    {{- end }}
    {{- if .Values.web.tls.enabled }}
    - name: web-tls
      secret:
        secretName: {{ .Values.web.tls.secretName }}
        defaultMode: 0440
    {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if and (gt (int (include "cle.pods" .)) 1) (ne .Values.podAntiAffinity "none") }}
  affinity:
    podAntiAffinity:
      {{- if eq .Values.podAntiAffinity "hard" }}
      requiredDuringSchedulingIgnoredDuringExecution:
        - topologyKey: {{ .Values.podAntiAffinityTopologyKey }}
          labelSelector:
            matchLabels:
              {{- include "cle.selectorLabels" . | nindent 14 }}
      {{- else }}
      preferredDuringSchedulingIgnoredDuringExecution:
        - weight: 100
          podAffinityTerm:
            topologyKey: {{ .Values.podAntiAffinityTopologyKey }}
            labelSelector:
              matchLabels:
                {{- include "cle.selectorLabels" . | nindent 16 }}
      {{- end }}
  {{- end }}
{{- end }}
