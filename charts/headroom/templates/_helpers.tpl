{{/*
Names, labels and the few computed values the templates share. Object names come from here only.
*/}}

{{/* The chart name, overridable with nameOverride. */}}
{{- define "headroom.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name: <release>-headroom, or <release> when it already contains the chart
name. 52 characters at most, so "-recommender" (12) still fits the 63 of a label value.
*/}}
{{- define "headroom.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Component object names. */}}
{{- define "headroom.webhook.fullname" -}}{{ include "headroom.fullname" . }}-webhook{{- end -}}
{{- define "headroom.recommender.fullname" -}}{{ include "headroom.fullname" . }}-recommender{{- end -}}
{{- define "headroom.agent.fullname" -}}{{ include "headroom.fullname" . }}-agent{{- end -}}

{{/* The Secret the webhook mounts: written by cert-manager, or by Helm when certManager is off. */}}
{{- define "headroom.webhook.tlsSecretName" -}}
{{- if .Values.certManager.enabled -}}
{{ include "headroom.webhook.fullname" . }}-tls
{{- else -}}
{{ include "headroom.webhook.fullname" . }}-tls-generated
{{- end -}}
{{- end -}}

{{/* The DNS names the API server may use for the webhook Service; the serving certificate covers each. */}}
{{- define "headroom.webhook.dnsNames" -}}
{{- $svc := include "headroom.webhook.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.cluster.local" $svc $ns) | toJson -}}
{{- end -}}

{{/* helm.sh/chart label value. */}}
{{- define "headroom.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels of every object. Call with (dict "ctx" $ "component" "webhook"); component may be empty for
objects shared by all components (the CRD).
*/}}
{{- define "headroom.labels" -}}
helm.sh/chart: {{ include "headroom.chart" .ctx }}
{{ include "headroom.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: headroom
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels: stable across upgrades, so never the version. */}}
{{- define "headroom.selectorLabels" -}}
app.kubernetes.io/name: {{ include "headroom.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* The image reference: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "headroom.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* The policy horizon: policy.horizon, else 2h with the agent (it reclaims cache early), else 24h. */}}
{{- define "headroom.policy.horizon" -}}
{{- if .Values.policy.horizon -}}
{{ .Values.policy.horizon }}
{{- else if .Values.agent.enabled -}}
2h
{{- else -}}
24h
{{- end -}}
{{- end -}}

{{/*
The agent's target: what a reclaim brings usage down to. agent.target when set, else 20 points below
the policy's alert line (0.60 with the default 0.8), the rule headroom backtest models the agent with.
*/}}
{{- define "headroom.agent.target" -}}
{{- if kindIs "invalid" .Values.agent.target -}}
{{- round (subf (float64 .Values.policy.targetUtilization) 0.20) 2 -}}
{{- else -}}
{{- float64 .Values.agent.target -}}
{{- end -}}
{{- end -}}

{{/*
The agent's threshold. It acts 5 points below the policy's alert line (DESIGN.md 1.6), so limits sized
for targetUtilization and the agent together keep usage under it: the threshold follows the policy
unless agent.threshold is set. It must stay below targetUtilization (else the alert fires before the
agent acts) and above agent.target (else there is nothing to reclaim down to): the render fails
otherwise.
*/}}
{{- define "headroom.agent.threshold" -}}
{{- $utilization := float64 .Values.policy.targetUtilization -}}
{{- $threshold := round (subf $utilization 0.05) 2 -}}
{{- if not (kindIs "invalid" .Values.agent.threshold) -}}
{{- $threshold = float64 .Values.agent.threshold -}}
{{- end -}}
{{- $target := include "headroom.agent.target" . | float64 -}}
{{- if ge $threshold $utilization -}}
{{- fail (printf "agent.threshold %v must be below policy.targetUtilization %v: the agent must reclaim cache before usage reaches the alert line" $threshold $utilization) -}}
{{- end -}}
{{- if ge $target $threshold -}}
{{- fail (printf "agent.target %v must be below the agent's threshold %v (agent.threshold, or policy.targetUtilization - 0.05 when unset; agent.target is policy.targetUtilization - 0.20 when unset)" $target $threshold) -}}
{{- end -}}
{{- $threshold -}}
{{- end -}}

{{/*
The Helm-generated CA and serving certificate (certManager.enabled=false), as YAML with base64 values
under ca.crt, tls.crt and tls.key. An existing Secret is reused so upgrades keep the certificates.
The result is kept in .Values for the rest of the render: the Secret and the
MutatingWebhookConfiguration are separate templates and must carry the same CA.
*/}}
{{- define "headroom.webhook.generatedTLS" -}}
{{- if not (hasKey .Values "__headroomGeneratedTLS") -}}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "headroom.webhook.tlsSecretName" .) -}}
{{- $tls := dict -}}
{{- if and $secret $secret.data (index $secret.data "ca.crt") (index $secret.data "tls.crt") (index $secret.data "tls.key") -}}
{{- $tls = dict "ca.crt" (index $secret.data "ca.crt") "tls.crt" (index $secret.data "tls.crt") "tls.key" (index $secret.data "tls.key") -}}
{{- else -}}
{{- $days := int .Values.generatedCertificate.validityDays -}}
{{- $ca := genCA (printf "%s-ca" (include "headroom.fullname" .)) $days -}}
{{- $dnsNames := include "headroom.webhook.dnsNames" . | fromJsonArray -}}
{{- $cert := genSignedCert (index $dnsNames 2) nil $dnsNames $days $ca -}}
{{- $tls = dict "ca.crt" ($ca.Cert | b64enc) "tls.crt" ($cert.Cert | b64enc) "tls.key" ($cert.Key | b64enc) -}}
{{- end -}}
{{- $_ := set .Values "__headroomGeneratedTLS" $tls -}}
{{- end -}}
{{- toYaml (get .Values "__headroomGeneratedTLS") -}}
{{- end -}}

{{/* The ServiceMonitor of one component. Call with (dict "ctx" $ "component" "webhook" "name" <name>). */}}
{{- define "headroom.serviceMonitor" -}}
{{- $v := .ctx.Values.serviceMonitor -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ .name }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "headroom.labels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
    {{- with $v.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "headroom.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .ctx.Release.Namespace }}
  endpoints:
    - port: metrics
      path: /metrics
      interval: {{ $v.interval }}
      scrapeTimeout: {{ $v.scrapeTimeout }}
{{- end -}}
