package manifest

import (
	"context"
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/cli/values"
	"helm.sh/helm/v4/pkg/getter"
	release "helm.sh/helm/v4/pkg/release/v1"
)

// Options say what to render with: values files and --set values, as `helm template` takes
// them, the release's name and namespace, and the Kubernetes version the templates see
// (Capabilities.KubeVersion). Empty fields take the defaults noted.
type Options struct {
	ValuesFiles []string // -f, in order
	Set         []string // --set, e.g. "services.quality.replicas=3"
	ReleaseName string   // default "meshwork"
	Namespace   string   // default "meshwork"
	KubeVersion string   // default "v1.33.0" (Helm's own client-only default is v1.20)
}

// Render loads the chart at dir (with its charts/ dependencies) and renders it as
// `helm template` does, client-only. It returns every rendered document: the manifest
// followed by the hooks (chart tests included).
func Render(ctx context.Context, dir string, opts Options) (string, error) {
	chrt, err := loader.Load(dir)
	if err != nil {
		return "", fmt.Errorf("manifest.Render: load chart %s: %w", dir, err)
	}
	valueOpts := values.Options{ValueFiles: opts.ValuesFiles, Values: opts.Set}
	vals, err := valueOpts.MergeValues(getter.Providers{})
	if err != nil {
		return "", fmt.Errorf("manifest.Render: values: %w", err)
	}

	inst := action.NewInstall(action.NewConfiguration())
	inst.DryRunStrategy = action.DryRunClient
	inst.Replace = true // client-only: no release-name check against a cluster
	inst.ReleaseName = or(opts.ReleaseName, "meshwork")
	inst.Namespace = or(opts.Namespace, "meshwork")
	{
		kv, err := common.ParseKubeVersion(or(opts.KubeVersion, "v1.33.0"))
		if err != nil {
			return "", fmt.Errorf("manifest.Render: kube version %q: %w", opts.KubeVersion, err)
		}
		inst.KubeVersion = kv
	}
	r, err := inst.RunWithContext(ctx, chrt, vals)
	if err != nil {
		return "", fmt.Errorf("manifest.Render: %w", err)
	}
	rel, ok := r.(*release.Release)
	if !ok {
		return "", fmt.Errorf("manifest.Render: unexpected release type %T", r)
	}
	var b strings.Builder
	b.WriteString(rel.Manifest)
	for _, h := range rel.Hooks {
		fmt.Fprintf(&b, "\n---\n# Source: %s\n%s\n", h.Path, h.Manifest)
	}
	return b.String(), nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
