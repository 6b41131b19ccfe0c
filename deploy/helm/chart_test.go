package helm_test

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"meshwork.dev/deploy/helm/manifest"
)

var services = []string{"catalog", "identity", "files", "quality", "logistics", "scheduling"}

func render(t *testing.T, files ...string) []manifest.Object {
	t.Helper()
	out, err := manifest.Render(context.Background(), "meshwork", manifest.Options{ValuesFiles: files})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Validate([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func TestChartRendersValid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    []string
		replicas map[string]int32
	}{
		{"default", nil, map[string]int32{"quality": 1, "catalog": 1}},
		{"ha", []string{"meshwork/values-ha.yaml"}, map[string]int32{"quality": 3, "catalog": 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := render(t, tc.files...)
			kinds := map[string]map[string]bool{}
			for _, o := range objs {
				if kinds[o.GVK.Kind] == nil {
					kinds[o.GVK.Kind] = map[string]bool{}
				}
				kinds[o.GVK.Kind][o.Name()] = true
				d, ok := o.Obj.(*appsv1.Deployment)
				if !ok || !strings.HasPrefix(d.Name, "meshwork-") || d.Name == "meshwork-nats-box" {
					continue
				}
				svc := strings.TrimPrefix(d.Name, "meshwork-")
				c := d.Spec.Template.Spec.Containers[0]
				if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
					t.Errorf("%s probes: %s %s", svc, c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
				}
				if want, ok := tc.replicas[svc]; ok && *d.Spec.Replicas != want {
					t.Errorf("%s replicas = %d, want %d", svc, *d.Spec.Replicas, want)
				}
			}
			for _, s := range services {
				for _, k := range []string{"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"} {
					if !kinds[k]["meshwork-"+s] {
						t.Errorf("no %s meshwork-%s", k, s)
					}
				}
			}
			if !kinds["StatefulSet"]["meshwork-nats"] {
				t.Error("no nats StatefulSet")
			}
		})
	}
}

func TestValidateRejects(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field": "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {bogus: 1}\n",
		"wrong type":    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: two}\n",
		"unknown kind":  "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: a}\n",
		"bad name":      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Not_Valid}\n",
	} {
		if _, err := manifest.Validate([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := manifest.Validate([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")); err != nil {
		t.Errorf("good ConfigMap refused: %v", err)
	}
}
