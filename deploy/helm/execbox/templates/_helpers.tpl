{{- define "execbox.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "execbox.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector labels of one role: (dict "root" $ "role" "gateway") */}}
{{- define "execbox.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .role }}
{{- end -}}

{{- define "execbox.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "execbox.secretName" -}}
{{ .Values.secrets.name | default (include "execbox.fullname" .) }}
{{- end -}}

{{- define "execbox.queueURL" -}}
http://{{ include "execbox.fullname" . }}-queue:{{ .Values.queue.port }}
{{- end -}}

{{- define "execbox.storageURL" -}}
http://{{ include "execbox.fullname" . }}-storage:{{ .Values.storage.port }}
{{- end -}}

{{/* Environment every role has: logging, the GC target, the internal token. */}}
{{- define "execbox.env" -}}
- name: EXECBOX_LOG_FORMAT
  value: json
- name: EXECBOX_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: GOMEMLIMIT
  value: {{ .Values.goMemLimit | quote }}
- name: EXECBOX_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "execbox.secretName" . }}
      key: internal-token
{{- end -}}

{{/* The queue's Redis; REDIS_PASSWORD first, so the URL can say $(REDIS_PASSWORD). */}}
{{- define "execbox.redisEnv" -}}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "execbox.secretName" . }}
      key: redis-password
      optional: true
- name: REDIS_URL
  value: {{ .Values.redis.url | quote }}
- name: EXECBOX_REDIS_PREFIX
  value: {{ .Values.redis.prefix | quote }}
{{- end -}}

{{- define "execbox.securityContext" -}}
runAsNonRoot: true
runAsUser: 65534
runAsGroup: 65534
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* Probes through the binary's own healthcheck (the image has no shell): (dict "port" 8085) */}}
{{- define "execbox.probes" -}}
livenessProbe:
  exec:
    command: ["/app", "healthcheck", "--url", "http://127.0.0.1:{{ .port }}/health"]
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  exec:
    command: ["/app", "healthcheck", "--url", "http://127.0.0.1:{{ .port }}/ready"]
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
startupProbe:
  exec:
    command: ["/app", "healthcheck", "--url", "http://127.0.0.1:{{ .port }}/health"]
  periodSeconds: 2
  failureThreshold: 30
{{- end -}}

{{/* Resources: the role's own, else the chart's. (dict "root" $ "own" .Values.gateway.resources) */}}
{{- define "execbox.resources" -}}
{{- if .own }}
{{- toYaml .own }}
{{- else }}
{{- toYaml .root.Values.resources }}
{{- end }}
{{- end -}}

{{/* A tmpfs /tmp: the root file system is read-only. */}}
{{- define "execbox.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: 16Mi
{{- end -}}

{{/* PodDisruptionBudget: (dict "root" $ "role" "gateway" "pdb" .Values.gateway.pdb) */}}
{{- define "execbox.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "execbox.fullname" .root }}-{{ .role }}
  labels:
    {{- include "execbox.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
spec:
  {{- if hasKey .pdb "maxUnavailable" }}
  maxUnavailable: {{ .pdb.maxUnavailable }}
  {{- else }}
  minAvailable: {{ .pdb.minAvailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "execbox.selector" (dict "root" .root "role" .role) | nindent 6 }}
{{- end -}}

{{/* Pod spec bits every role's pod shares. */}}
{{- define "execbox.podCommon" -}}
automountServiceAccountToken: false
enableServiceLinks: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Deployment of a role without sandboxes: (dict "root" $ "role" "queue" "v" .Values.queue "env" (include ...)) */}}
{{- define "execbox.deployment" -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "execbox.fullname" .root }}-{{ .role }}
  labels:
    {{- include "execbox.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
spec:
  replicas: {{ .v.replicas }}
  selector:
    matchLabels:
      {{- include "execbox.selector" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "execbox.labels" .root | nindent 8 }}
        app.kubernetes.io/component: {{ .role }}
    spec:
      {{- include "execbox.podCommon" .root | nindent 6 }}
      terminationGracePeriodSeconds: 45
      containers:
        - name: {{ .role }}
          image: {{ include "execbox.image" .root }}
          imagePullPolicy: {{ .root.Values.image.pullPolicy }}
          args: [{{ .role | quote }}]
          ports:
            - name: http
              containerPort: {{ .v.port }}
          env:
            - name: EXECBOX_PORT
              value: {{ .v.port | quote }}
            {{- include "execbox.env" .root | nindent 12 }}
            {{- .env | nindent 12 }}
            {{- with .v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- include "execbox.probes" (dict "port" .v.port) | nindent 10 }}
          resources:
            {{- include "execbox.resources" (dict "root" .root "own" .v.resources) | nindent 12 }}
          securityContext:
            {{- include "execbox.securityContext" .root | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "execbox.tmpVolume" .root | nindent 8 }}
{{- end -}}

{{/* ClusterIP Service of a role: (dict "root" $ "role" "queue" "port" 8086) */}}
{{- define "execbox.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "execbox.fullname" .root }}-{{ .role }}
  labels:
    {{- include "execbox.labels" .root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
spec:
  type: ClusterIP
  selector:
    {{- include "execbox.selector" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .port }}
      targetPort: http
{{- end -}}
