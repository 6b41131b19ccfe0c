package launcher

import (
	"context"
	"fmt"
	"github.com/nats-io/nats-server/v2/server"
	"meshwork.dev/platform/natsauth"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeMatchesTheLauncher loads docker-compose.yml with the compose-spec loader and checks
// that `docker compose up` runs the same topology as `make run`: every service that exists in
// the repository, on the ports and with the environment of the launcher's table, health checked,
// started after the stores it needs are healthy, built multi-stage to run as non-root.
func TestComposeMatchesTheLauncher(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root), cli.WithName("meshwork"), cli.WithEnv([]string{"POSTGRES_PASSWORD=test", "IDENTITY_KEY_ENCRYPTION_KEY=dGVzdA==", "FILES_KEY_ENCRYPTION_KEY=dGVzdA==",
			"NATS_ISSUER_PUBLIC=A", "NATS_ISSUER_SEED=S", "NATS_AUTH_PASSWORD=a", "NATS_GOVERNANCE_PASSWORD=g", "NATS_SYSTEM_PASSWORD=s",
			"NATS_IDENTITY_PASSWORD=i", "PII_HASH_KEY=k"}))
	if err != nil {
		t.Fatal(err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}

	infra := map[string][]string{"nats": {"4222", "8222", "1883"}, "postgres": {"5432"}, "mongo": {"27017"}, "redis": {"6379"},
		"otel-collector": {"4317", "4318"}, "jaeger": {"16686"}}
	for name, ports := range infra {
		svc, ok := project.Services[name]
		if !ok {
			t.Errorf("compose lacks the %s service", name)
			continue
		}
		for _, p := range ports {
			if !publishes(svc, p, p) {
				t.Errorf("%s does not publish %s", name, p)
			}
		}
	}
	for _, name := range []string{"nats", "postgres", "mongo", "redis"} {
		if hc := project.Services[name].HealthCheck; hc == nil || len(hc.Test) == 0 {
			t.Errorf("%s has no health check", name)
		}
		if !namedVolume(project, project.Services[name]) {
			t.Errorf("%s keeps its data in no named volume", name)
		}
	}

	checked := 0
	for _, s := range Services() {
		if s.Simulator || !exists(root, s) {
			continue
		}
		checked++
		t.Run(s.Name, func(t *testing.T) {
			svc, ok := project.Services[s.Name]
			if !ok {
				t.Fatalf("compose lacks %s, which the launcher starts", s.Name)
			}
			for _, p := range []int{s.GRPCPort, s.HTTPPort} {
				if !publishes(svc, fmt.Sprint(p), fmt.Sprint(p)) {
					t.Errorf("does not publish %d:%d", p, p)
				}
			}
			wantEnv := map[string]string{"GRPC_ADDR": fmt.Sprintf(":%d", s.GRPCPort), "HTTP_ADDR": fmt.Sprintf(":%d", s.HTTPPort),
				"NATS_URL": "nats://nats:4222", "OTEL_SERVICE_NAME": s.Name}
			for k, v := range wantEnv {
				if got := svc.Environment[k]; got == nil || *got != v {
					t.Errorf("environment %s = %v, want %q", k, deref(got), v)
				}
			}
			if got := svc.Environment["OTEL_EXPORTER_OTLP_ENDPOINT"]; got == nil || !strings.Contains(*got, "otel-collector") {
				t.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT = %v, want the collector", deref(got))
			}
			for _, k := range s.Secrets {
				if got := svc.Environment[k]; got == nil || *got == "" {
					t.Errorf("environment lacks the secret %s that the launcher generates", k)
				}
			}
			if s.Account {
				// Declared, filled from .env once identity has created the account.
				for _, k := range []string{"SERVICE_CLIENT_ID", "SERVICE_CLIENT_SECRET"} {
					if _, ok := svc.Environment[k]; !ok {
						t.Errorf("environment does not declare %s: the service calls others with a service account", k)
					}
				}
				if got := svc.Environment["IDENTITY_ADDR"]; got == nil || *got == "" {
					t.Error("environment lacks IDENTITY_ADDR")
				}
			}
			needs := map[string]bool{"nats": true}
			envFor := map[string]bool{"DATABASE_URL": s.Postgres != "", "REDIS_URL": s.Redis, "MONGODB_URI": s.Mongo != ""}
			for k, want := range envFor {
				if got := svc.Environment[k]; (got != nil) != want {
					t.Errorf("environment has %s = %v; the launcher gives it: %v", k, deref(got), want)
				}
			}
			if s.Postgres != "" {
				needs["postgres"] = true
				if got := deref(svc.Environment["DATABASE_URL"]); !strings.Contains(got, "@postgres:5432/"+s.Postgres+"?") {
					t.Errorf("DATABASE_URL %q is not the %s database on postgres", got, s.Postgres)
				}
			}
			if s.Redis {
				needs["redis"] = true
			}
			if s.Mongo != "" {
				needs["mongo"] = true
			}
			for dep := range needs {
				if d, ok := svc.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("does not wait for %s to be healthy (depends_on %+v)", dep, svc.DependsOn)
				}
			}
			if hc := svc.HealthCheck; hc == nil || !strings.Contains(strings.Join(hc.Test, " "), "healthcheck") {
				t.Errorf("health check %+v, want the binary's healthcheck", svc.HealthCheck)
			}
			if svc.Build == nil {
				t.Fatal("is not built from a Dockerfile")
			}
			dockerfile, err := os.ReadFile(filepath.Join(svc.Build.Context, svc.Build.Dockerfile))
			if err != nil {
				t.Fatalf("Dockerfile: %v", err)
			}
			if n := strings.Count(string(dockerfile), "\nFROM ") + boolInt(strings.HasPrefix(string(dockerfile), "FROM ")); n < 2 {
				t.Errorf("Dockerfile has %d stages, want a multi-stage build", n)
			}
			if !strings.Contains(string(dockerfile), "USER nonroot") {
				t.Error("Dockerfile does not switch to a non-root user")
			}
		})
	}
	if checked == 0 {
		t.Fatal("no service of the launcher's table exists in the repository")
	}
}

// exists reports whether s has a main package in the repository.
func exists(root string, s Service) bool {
	for _, dir := range []string{filepath.Join(root, "platform", "cmd", s.Name), filepath.Join(root, "domains", s.Name, "cmd", s.Name)} {
		if _, err := os.Stat(filepath.Join(dir, "main.go")); err == nil {
			return true
		}
	}
	return false
}

func publishes(svc types.ServiceConfig, published, target string) bool {
	for _, p := range svc.Ports {
		if p.Published == published && fmt.Sprint(p.Target) == target {
			return true
		}
	}
	return false
}

func namedVolume(project *types.Project, svc types.ServiceConfig) bool {
	for _, v := range svc.Volumes {
		if _, ok := project.Volumes[v.Source]; ok && v.Type == types.VolumeTypeVolume {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return "<unset>"
	}
	return *s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestComposeNATSRequiresAuthentication parses deploy/nats.conf with nats-server's own
// config parser and checks it authenticates as make run does: the callout and its static users.
func TestComposeNATSRequiresAuthentication(t *testing.T) {
	for range 20 { // fresh secrets each time: every one must read back from the environment
		composeNATSAuth(t)
	}
}

func composeNATSAuth(t *testing.T) {
	k, err := natsauth.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := k.Issuer()
	pub, _ := kp.PublicKey()
	for name, v := range map[string]string{"NATS_ISSUER_PUBLIC": pub, "NATS_AUTH_PASSWORD": k.AuthPassword,
		"NATS_GOVERNANCE_PASSWORD": k.GovernancePassword, "NATS_SYSTEM_PASSWORD": k.SystemPassword} {
		t.Setenv(name, v)
	}
	opts, err := server.ProcessConfigFile(filepath.Join("..", "..", "deploy", "nats.conf"))
	if err != nil {
		t.Fatalf("deploy/nats.conf: %v", err)
	}
	if opts.AuthCallout == nil || opts.AuthCallout.Issuer != pub || opts.AuthCallout.Account != natsauth.Account {
		t.Fatalf("auth callout = %+v, want issuer %s in account %s", opts.AuthCallout, pub, natsauth.Account)
	}
	users := map[string]string{}
	for _, u := range opts.Users {
		users[u.Username] = u.Password
	}
	for user, pw := range map[string]string{natsauth.AuthUser: k.AuthPassword, natsauth.GovernanceUser: k.GovernancePassword,
		natsauth.SystemUser: k.SystemPassword} {
		if users[user] != pw {
			t.Errorf("static user %s: password from the environment not applied", user)
		}
	}
}

// TestComposeHAProfile loads docker-compose.yml with and without the profile `ha` and parses
// deploy/nats-ha.conf: three NATS nodes, each with its own name, volume and ports, routed to one
// another, fsyncing every write, and absent from the default `docker compose up`. With
// docker-compose.ha.yml on top every domain service uses the three nodes with R3 streams, as
// under `meshctl up --ha`, and the single server does not run.
func TestComposeHAProfile(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"POSTGRES_PASSWORD=test", "IDENTITY_KEY_ENCRYPTION_KEY=dGVzdA==", "FILES_KEY_ENCRYPTION_KEY=dGVzdA==",
		"NATS_ISSUER_PUBLIC=A", "NATS_ISSUER_SEED=S", "NATS_AUTH_PASSWORD=a", "NATS_GOVERNANCE_PASSWORD=g", "NATS_SYSTEM_PASSWORD=s",
		"NATS_IDENTITY_PASSWORD=i", "PII_HASH_KEY=k"}
	loadFiles := func(files []string, profiles ...string) *types.Project {
		var paths []string
		for _, f := range files {
			paths = append(paths, filepath.Join(root, f))
		}
		opts, err := cli.NewProjectOptions(paths,
			cli.WithWorkingDirectory(root), cli.WithName("meshwork"), cli.WithEnv(env), cli.WithProfiles(profiles))
		if err != nil {
			t.Fatal(err)
		}
		p, err := opts.LoadProject(context.Background())
		if err != nil {
			t.Fatalf("%s does not load with profiles %q: %v", files, profiles, err)
		}
		return p
	}
	load := func(profiles ...string) *types.Project { return loadFiles([]string{"docker-compose.yml"}, profiles...) }
	nodes := []string{"nats-1", "nats-2", "nats-3"}
	for _, n := range nodes {
		if _, ok := load().Services[n]; ok {
			t.Errorf("%s runs without the profile ha", n)
		}
	}
	ha := load("ha")
	names, volumes := map[string]bool{}, map[string]bool{}
	for i, n := range nodes {
		svc, ok := ha.Services[n]
		if !ok {
			t.Errorf("profile ha lacks %s", n)
			continue
		}
		name := deref(svc.Environment["NATS_SERVER_NAME"])
		if name != n || names[name] {
			t.Errorf("%s: NATS_SERVER_NAME = %q, want %q (unique per node)", n, name, n)
		}
		names[name] = true
		var conf bool
		for _, v := range svc.Volumes {
			conf = conf || strings.HasSuffix(v.Source, filepath.Join("deploy", "nats-ha.conf"))
			if v.Type == types.VolumeTypeVolume {
				if volumes[v.Source] {
					t.Errorf("%s shares the volume %s with another node", n, v.Source)
				}
				volumes[v.Source] = true
			}
		}
		if !conf {
			t.Errorf("%s does not mount deploy/nats-ha.conf", n)
		}
		if !publishes(svc, fmt.Sprint(4223+i), "4222") || svc.HealthCheck == nil {
			t.Errorf("%s: want client port %d published and a health check", n, 4223+i)
		}
	}
	if len(volumes) != 3 {
		t.Errorf("the nodes keep their data in %d named volumes, want 3", len(volumes))
	}

	whole := loadFiles([]string{"docker-compose.yml", "docker-compose.ha.yml"}, "ha")
	if _, ok := whole.Services["nats"]; ok {
		t.Error("with docker-compose.ha.yml the single nats server still runs")
	}
	checked := 0
	for _, s := range Services() {
		if s.Simulator || !exists(root, s) {
			continue
		}
		checked++
		svc, ok := whole.Services[s.Name]
		if !ok {
			t.Errorf("with docker-compose.ha.yml compose lacks %s", s.Name)
			continue
		}
		if got, want := deref(svc.Environment["NATS_URL"]), "nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222"; got != want {
			t.Errorf("%s: NATS_URL = %q, want %q", s.Name, got, want)
		}
		if got := deref(svc.Environment["NATS_REPLICAS"]); got != "3" {
			t.Errorf("%s: NATS_REPLICAS = %q, want 3", s.Name, got)
		}
		if _, ok := svc.DependsOn["nats"]; ok {
			t.Errorf("%s still waits for the single nats server", s.Name)
		}
		for _, n := range nodes {
			if d, ok := svc.DependsOn[n]; !ok || d.Condition != types.ServiceConditionHealthy {
				t.Errorf("%s does not wait for %s to be healthy (depends_on %+v)", s.Name, n, svc.DependsOn)
			}
		}
		if got := deref(svc.Environment["OTEL_SERVICE_NAME"]); got != s.Name {
			t.Errorf("%s: the override lost the rest of its environment (OTEL_SERVICE_NAME %q)", s.Name, got)
		}
	}
	if checked == 0 {
		t.Error("no domain service checked against docker-compose.ha.yml")
	}

	k, err := natsauth.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := k.Issuer()
	pub, _ := kp.PublicKey()
	t.Setenv("NATS_SERVER_NAME", "nats-2")
	for name, v := range map[string]string{"NATS_ISSUER_PUBLIC": pub, "NATS_AUTH_PASSWORD": k.AuthPassword,
		"NATS_GOVERNANCE_PASSWORD": k.GovernancePassword, "NATS_SYSTEM_PASSWORD": k.SystemPassword} {
		t.Setenv(name, v)
	}
	o, err := server.ProcessConfigFile(filepath.Join(root, "deploy", "nats-ha.conf"))
	if err != nil {
		t.Fatalf("deploy/nats-ha.conf: %v", err)
	}
	var routes []string
	for _, r := range o.Routes {
		routes = append(routes, r.Host)
	}
	if o.ServerName != "nats-2" || !o.SyncAlways || o.Cluster.Port != 6222 || len(routes) != 3 || o.AuthCallout == nil {
		t.Errorf("nats-ha.conf: server %q, sync always %v, cluster port %d, routes %v, callout %v: want nats-2, true, 6222, the three nodes, the callout",
			o.ServerName, o.SyncAlways, o.Cluster.Port, routes, o.AuthCallout != nil)
	}
}
