package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSelectServices(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	for _, n := range []string{"catalog", "quality", "quality-sim"} {
		if err := os.WriteFile(filepath.Join(bin, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(bin, "files"), nil, 0o644); err != nil { // not executable
		t.Fatal(err)
	}
	table := slices.DeleteFunc(Services(), func(s Service) bool { return s.Name == "files" })
	noCatalog := Services()[1:]
	tests := []struct {
		name     string
		table    []Service
		noSim    bool
		only     []string
		services []string // after the catalog
		sims     []string
		skipped  []string
		err      string
	}{
		{name: "all built so far", table: table, services: []string{"quality"}, sims: []string{"quality-sim"},
			skipped: []string{"identity", "logistics", "scheduling", "fleet-sim"}},
		{name: "no sim", table: table, noSim: true, services: []string{"quality"},
			skipped: []string{"identity", "logistics", "scheduling"}},
		{name: "only", table: table, only: []string{"quality-sim"}, sims: []string{"quality-sim"}},
		{name: "only catalog", table: table, only: []string{"catalog"}},
		{name: "only unknown", table: table, only: []string{"qualty"}, err: "--only qualty: no such service (known: catalog, identity"},
		{name: "only unbuilt", table: table, only: []string{"identity"}, err: "identity not found (`make run` builds the binaries)"},
		{name: "not executable", table: Services(), err: "files is not an executable file"},
		{name: "no catalog in table", table: noCatalog, err: "the table has no catalog"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := selectServices(tt.table, bin, tt.noSim, tt.only)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.catalog.Name != Catalog || !slices.Equal(names(p.services), tt.services) ||
				!slices.Equal(names(p.sims), tt.sims) || !slices.Equal(p.skipped, tt.skipped) {
				t.Errorf("plan = %s + %v + %v, skipped %v; want catalog + %v + %v, skipped %v",
					p.catalog.Name, names(p.services), names(p.sims), p.skipped, tt.services, tt.sims, tt.skipped)
			}
		})
	}
}

func TestChildEnv(t *testing.T) {
	t.Parallel()
	ep := Endpoints{NATS: "nats://127.0.0.1:4222", Postgres: "postgres://postgres@127.0.0.1:15432",
		Redis: "redis://127.0.0.1:16379", MongoDB: "mongodb://127.0.0.1:27027/"}
	getenv := func(k string) string {
		return map[string]string{"PATH": "/usr/bin:/bin", "HOME": "/home/dev", "SECRET": "leak"}[k]
	}
	common := []string{"CATALOG_ADDR=127.0.0.1:7000", "HOME=/home/dev", "IDENTITY_ADDR=127.0.0.1:7001",
		"FILES_ADDR=127.0.0.1:7002", "QUALITY_ADDR=127.0.0.1:7003", "LOGISTICS_ADDR=127.0.0.1:7004", "SCHEDULING_ADDR=127.0.0.1:7005",
		"JWKS_URL=http://127.0.0.1:8001/.well-known/jwks.json", "NATS_URL=nats://127.0.0.1:4222", "PATH=/usr/bin:/bin"}
	tests := []struct {
		name string
		own  []string
	}{
		{"identity", []string{"DATABASE_URL=postgres://postgres@127.0.0.1:15432/identity?sslmode=disable",
			"GRPC_ADDR=127.0.0.1:7001", "HTTP_ADDR=127.0.0.1:8001", "OTEL_SERVICE_NAME=identity", "SHUTDOWN_TIMEOUT=6s", "REDIS_URL=redis://127.0.0.1:16379/1"}},
		{"files", []string{"GRPC_ADDR=127.0.0.1:7002", "HTTP_ADDR=127.0.0.1:8002",
			"MONGODB_URI=mongodb://127.0.0.1:27027/files", "OTEL_SERVICE_NAME=files", "SHUTDOWN_TIMEOUT=6s"}},
		{"logistics", []string{"DATABASE_URL=postgres://postgres@127.0.0.1:15432/logistics?sslmode=disable",
			"GRPC_ADDR=127.0.0.1:7004", "HTTP_ADDR=127.0.0.1:8004", "OTEL_SERVICE_NAME=logistics", "SHUTDOWN_TIMEOUT=6s", "REDIS_URL=redis://127.0.0.1:16379/2"}},
		{"fleet-sim", []string{"OTEL_SERVICE_NAME=fleet-sim", "SHUTDOWN_TIMEOUT=6s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			i := slices.IndexFunc(Services(), func(s Service) bool { return s.Name == tt.name })
			got := childEnv(Services()[i], Services(), ep, getenv)
			want := append(slices.Clone(common), tt.own...)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("env of %s:\n got %q\nwant %q", tt.name, got, want)
			}
		})
	}
}

func TestDatabases(t *testing.T) {
	t.Parallel()
	want := []string{"catalog", "identity", "quality", "logistics", "scheduling"}
	if got := Databases(Services()); !slices.Equal(got, want) {
		t.Errorf("Databases = %v, want %v", got, want)
	}
}

func TestOnly(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{"": nil, "catalog": {"catalog"}, " catalog, quality ,,": {"catalog", "quality"}} {
		if got := Only(in); !slices.Equal(got, want) {
			t.Errorf("Only(%q) = %q, want %q", in, got, want)
		}
	}
}
