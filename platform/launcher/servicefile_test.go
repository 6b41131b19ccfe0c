package launcher

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeServiceFile(t *testing.T, root, dir, body string) {
	t.Helper()
	p := filepath.Join(root, "domains", dir, ServiceFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestServicesInAddsDeclaredDomainsBeforeTheSimulators(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeServiceFile(t, root, "inventory", `{"name":"inventory","grpc_port":7006,"http_port":8006,"postgres":"inventory","account":true,"consumes":["quality.machine-health.v1"]}`)
	got, err := ServicesIn(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(Services())+1 {
		t.Fatalf("%d services, want %d", len(got), len(Services())+1)
	}
	var at int
	for i, s := range got {
		if s.Name == "inventory" {
			at = i
			if s.GRPCAddr() != "127.0.0.1:7006" || s.Postgres != "inventory" || !s.Account || s.Consumes[0] != "quality.machine-health.v1" {
				t.Errorf("inventory = %+v", s)
			}
		}
	}
	if got[at-1].Simulator || !got[at+1].Simulator {
		t.Errorf("inventory at %d: not between the services and the simulators", at)
	}
	if dbs := Databases(got); dbs[len(dbs)-1] != "inventory" {
		t.Errorf("Databases = %v, want inventory's too", dbs)
	}
}

func TestServicesInRejectsBadFiles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, dir, body, want string }{
		{"not json", "a", `{`, "unexpected EOF"},
		{"unknown field", "a", `{"name":"a","grpc_port":7006,"http_port":8006,"port":1}`, "unknown field"},
		{"other directory", "a", `{"name":"b","grpc_port":7006,"http_port":8006}`, "not its directory"},
		{"taken port", "a", `{"name":"a","grpc_port":7003,"http_port":8106}`, "collide with quality"},
		{"taken name", "quality", `{"name":"quality","grpc_port":7106,"http_port":8106}`, "in the mesh already"},
		{"no port", "a", `{"name":"a","http_port":8106}`, "grpc_port 0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			writeServiceFile(t, root, tt.dir, tt.body)
			if _, err := ServicesIn(root); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ServicesIn = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
