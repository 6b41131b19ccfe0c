{{/*
meshwork.fullname is a service's resource name: <release>-<service>, at most 63 characters.
Call with (dict "ctx" $ "name" "quality").
*/}}
{{- define "meshwork.fullname" -}}
{{- printf "%s-%s" .ctx.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{/* meshwork.selectorLabels picks one service's pods. Call with (dict "ctx" $ "name" ...). */}}
{{- define "meshwork.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end }}

{{/* meshwork.labels are every object's labels. Call with (dict "ctx" $ "name" ...). */}}
{{- define "meshwork.labels" -}}
{{ include "meshwork.selectorLabels" . }}
app.kubernetes.io/component: {{ .name }}
app.kubernetes.io/part-of: meshwork
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end }}

{{/*
meshwork.natsFullname is the nats subchart's resource name, computed the way that chart's
nats.fullname helper does (fullnameOverride, else <release>-<nameOverride or nats>, else the
release name when it already contains it).
*/}}
{{- define "meshwork.natsFullname" -}}
{{- $n := .Values.nats | default dict -}}
{{- if $n.fullnameOverride -}}
{{- $n.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default "nats" $n.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end }}

{{/* meshwork.natsUrl is every service's NATS_URL. */}}
{{- define "meshwork.natsUrl" -}}
{{- if .Values.natsUrl -}}
{{- .Values.natsUrl -}}
{{- else if .Values.nats.enabled -}}
{{- printf "nats://%s:4222" (include "meshwork.natsFullname" .) -}}
{{- else -}}
{{- fail "natsUrl: required when nats.enabled is false" -}}
{{- end -}}
{{- end }}

{{/* meshwork.image is a service's image. Call with (dict "ctx" $ "name" ...). */}}
{{- define "meshwork.image" -}}
{{- $i := .ctx.Values.image -}}
{{- $repo := .name -}}
{{- if $i.repositoryPrefix }}{{ $repo = printf "%s/%s" $i.repositoryPrefix $repo }}{{ end -}}
{{- if $i.registry }}{{ $repo = printf "%s/%s" $i.registry $repo }}{{ end -}}
{{- printf "%s:%s" $repo (default .ctx.Chart.AppVersion $i.tag) -}}
{{- end }}

{{/*
meshwork.service is one service's settings: defaults overlaid with services.<name>.
Call with (dict "ctx" $ "name" ...); returns YAML, read back with fromYaml.
*/}}
{{- define "meshwork.service" -}}
{{- $svc := index .ctx.Values.services .name -}}
{{- $s := mergeOverwrite (deepCopy .ctx.Values.defaults) (deepCopy $svc) -}}
{{- range $k := list "grpcPort" "httpPort" -}}
{{- $p := index $s $k -}}
{{- if not (and (regexMatch "^[0-9]+$" (toString $p)) (ge (int $p) 1) (le (int $p) 65535)) -}}
{{- fail (printf "services.%s.%s: %v is not a port number (1-65535)" $.name $k $p) -}}
{{- end -}}
{{- end -}}
{{- if not (regexMatch "^[0-9]+$" (toString $s.replicas)) -}}
{{- fail (printf "services.%s.replicas: %v is not a whole number >= 0" .name $s.replicas) -}}
{{- end -}}
{{- range $p := $s.peers -}}
{{- if not (hasKey $.ctx.Values.services $p) -}}
{{- fail (printf "services.%s.peers: %q is not a service" $.name $p) -}}
{{- end -}}
{{- end -}}
{{- toYaml $s -}}
{{- end }}
