{{/* Names, labels and the lists the templates share. */}}

{{- define "scriptrun.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scriptrun.fullname" -}}
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

{{/* Cluster-scoped objects carry the namespace too: the same release name may live in two. */}}
{{- define "scriptrun.clusterName" -}}
{{- printf "%s-%s" (include "scriptrun.fullname" .root) .root.Release.Namespace }}-{{ .component }}
{{- end }}

{{- define "scriptrun.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "scriptrun.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "scriptrun.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scriptrun.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component's objects: labels plus app.kubernetes.io/component. */}}
{{- define "scriptrun.componentLabels" -}}
{{ include "scriptrun.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "scriptrun.componentSelector" -}}
{{ include "scriptrun.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "scriptrun.image" -}}
{{- printf "%s:%s" .Values.image.repository .Values.image.tag }}
{{- end }}

{{/* A Service's name: fullname-SUFFIX, fullname with its dots made dashes (a release may be
named my.release) and shortened so that the whole is at most 63 characters, as a Service's name
must be (a DNS-1035 label, which starts with a letter). Other kinds take names of up to 253. */}}
{{- define "scriptrun.serviceName" -}}
{{- $base := include "scriptrun.fullname" .root | replace "." "-" | trunc (int (sub 62 (len .suffix))) | trimSuffix "-" }}
{{- if not (regexMatch "^[a-z]" $base) }}
{{- fail (printf "the Services would be named %s-%s, but a Service's name must start with a letter; set fullnameOverride to a name that does" $base .suffix) }}
{{- end }}
{{- printf "%s-%s" $base .suffix }}
{{- end }}

{{- define "scriptrun.leaseName" -}}
{{- include "scriptrun.fullname" . }}-controller
{{- end }}

{{/* Namespaces where runner pods are (runs, and the warm pools of the chart's runtimes) and
need their NetworkPolicy. Watching every namespace, the known ones are the release namespace, the
API's default namespace (every run of a request that names none) and the warm pools'. */}}
{{- define "scriptrun.runnerNamespaces" -}}
{{- $namespaces := list .Release.Namespace }}
{{- if .Values.api.enabled }}
{{- $namespaces = append $namespaces (include "scriptrun.apiNamespace" .) }}
{{- end }}
{{- range $runtime := .Values.runtimes }}
{{- if and $runtime $runtime.spec.warmPool }}
{{- $namespaces = concat $namespaces ($runtime.spec.warmPool.namespaces | default list) }}
{{- end }}
{{- end }}
{{- $namespaces = .Values.runner.networkPolicy.namespaces | default .Values.controller.watchNamespaces | default $namespaces }}
{{- toJson (uniq $namespaces) }}
{{- end }}

{{- define "scriptrun.apiNamespace" -}}
{{- .Values.api.defaultNamespace | default (first .Values.controller.watchNamespaces) | default .Release.Namespace }}
{{- end }}

{{/* What the controller and the API containers share: no privileges, a read-only root. */}}
{{- define "scriptrun.containerSecurityContext" -}}
allowPrivilegeEscalation: false
capabilities:
  drop: [ALL]
readOnlyRootFilesystem: true
runAsNonRoot: true
{{- end }}

{{- define "scriptrun.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* "true" when the Prometheus Operator's objects are to be rendered: the cluster serves
monitoring.coreos.com/v1, or monitoring.detectCRDs is off (a `helm template` with no cluster to ask). */}}
{{- define "scriptrun.monitoringAPI" -}}
{{- if or (not .Values.monitoring.detectCRDs) (.Capabilities.APIVersions.Has "monitoring.coreos.com/v1") }}true{{ end }}
{{- end }}
