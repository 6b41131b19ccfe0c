package launcher

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
)

// TestPreflight runs on a machine with both packages installed (the project's CI installs them):
// it must find them and do nothing.
func TestPreflight(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Preflight(context.Background(), &out); err != nil || out.Len() != 0 {
		t.Errorf("Preflight = %v with output %q, want nothing to do", err, out.String())
	}
}

func TestInstallPlan(t *testing.T) {
	t.Parallel()
	pg, rd := requiredPackages()[0], requiredPackages()[1]
	tests := []struct {
		name       string
		missing    []pkg
		apt        string
		root, sudo bool
		want       [][]string
		err        string
	}{
		{name: "root", missing: []pkg{pg, rd}, apt: "/usr/bin/apt-get", root: true, want: [][]string{
			{"/usr/bin/apt-get", "update"}, {"/usr/bin/apt-get", "install", "-y", "postgresql", "redis-server"}}},
		{name: "sudo", missing: []pkg{rd}, apt: "/usr/bin/apt-get", sudo: true, want: [][]string{
			{"sudo", "-n", "--preserve-env=DEBIAN_FRONTEND", "/usr/bin/apt-get", "update"},
			{"sudo", "-n", "--preserve-env=DEBIAN_FRONTEND", "/usr/bin/apt-get", "install", "-y", "redis-server"}}},
		{name: "no privileges", missing: []pkg{pg, rd}, apt: "/usr/bin/apt-get",
			err: "PostgreSQL server binaries (/usr/lib/postgresql/*/bin) and redis-server not installed: install postgresql and redis-server (e.g. sudo apt-get install -y postgresql redis-server)"},
		{name: "no apt", missing: []pkg{pg}, root: true,
			err: "PostgreSQL server binaries (/usr/lib/postgresql/*/bin) not installed: install postgresql (e.g. sudo apt-get install -y postgresql)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := installPlan(tt.missing, tt.apt, tt.root, tt.sudo)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err || strings.Contains(err.Error(), "\n") {
					t.Errorf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Errorf("plan = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
