package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/identity/kek"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/totp"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestBootstrapAdminRefusesWhenAnAdminExists(t *testing.T) {
	t.Parallel()
	m := start(t) // bootstrapped one admin already
	_, err := bootstrapAdmin(m.ctx, m.store(t), "second@meshwork.example")
	if !errors.Is(err, postgres.ErrAdminExists) {
		t.Fatalf("second bootstrap: %v, want ErrAdminExists", err)
	}
}

// binary builds the identity command once for this test.
func binary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "identity")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type result struct {
	code           int
	stdout, stderr string
}

func runBinary(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// TestSubcommands runs the real binary, as `make run` and operators do.
func TestSubcommands(t *testing.T) {
	t.Parallel()
	bin := binary(t)
	pg := testinfra.StartPostgres(t)
	key := runBinary(t, bin, nil, "generate-kek")
	if _, err := kek.Parse(key.stdout); key.code != 0 || err != nil {
		t.Fatalf("generate-kek: %+v, %v", key, err)
	}
	env := []string{"DATABASE_URL=" + pg.URL, "KEY_ENCRYPTION_KEY=" + strings.TrimSpace(key.stdout)}

	first := runBinary(t, bin, env, "bootstrap-admin", "--email", "Boss@Meshwork.example", "--json")
	if first.code != 0 {
		t.Fatalf("bootstrap-admin: %+v", first)
	}
	var creds map[string]string
	if err := json.Unmarshal([]byte(first.stdout), &creds); err != nil {
		t.Fatalf("bootstrap-admin --json: %v\n%s", err, first.stdout)
	}
	secret, err := totp.DecodeSecret(creds["totp_secret"])
	if creds["email"] != "boss@meshwork.example" || len(creds["password"]) < 20 || err != nil ||
		!strings.HasPrefix(creds["otpauth_uri"], "otpauth://totp/") || !strings.Contains(creds["otpauth_uri"], creds["totp_secret"]) || len(creds) != 4 {
		t.Errorf("credentials %v (%v)", creds, err)
	}
	if len(secret) != totp.SecretBytes {
		t.Errorf("TOTP secret of %d bytes", len(secret))
	}

	again := runBinary(t, bin, env, "bootstrap-admin", "--email", "other@meshwork.example", "--json")
	if again.code != 3 || again.stdout != "" || strings.Count(again.stderr, "\n") != 1 || !strings.Contains(again.stderr, "an admin already exists") {
		t.Errorf("second bootstrap-admin: %+v, want exit 3 and one line", again)
	}

	sa := runBinary(t, bin, env, "create-service-account", "--name", "scheduling", "--json")
	var sac map[string]string
	if sa.code != 0 || json.Unmarshal([]byte(sa.stdout), &sac) != nil || sac["client_id"] != "svc-scheduling" || sac["client_secret"] == "" {
		t.Fatalf("create-service-account: %+v", sa)
	}
	rotated := runBinary(t, bin, env, "create-service-account", "--name", "scheduling", "--json")
	var rc map[string]string
	if rotated.code != 0 || json.Unmarshal([]byte(rotated.stdout), &rc) != nil || rc["client_secret"] == sac["client_secret"] {
		t.Errorf("second create-service-account should rotate: %+v", rotated)
	}
	eng := runBinary(t, bin, env, "create-user", "--email", "Ed@Meshwork.example", "--name", "Ed Engineer", "--role", "engineer", "--json")
	var nu map[string]any
	if eng.code != 0 || json.Unmarshal([]byte(eng.stdout), &nu) != nil {
		t.Fatalf("create-user: %+v", eng)
	}
	if id, _ := nu["id"].(string); id == "" || nu["email"] != "ed@meshwork.example" || fmt.Sprint(nu["roles"]) != "[engineer]" {
		t.Errorf("create-user printed %v", nu)
	}
	if pw, _ := nu["one_time_password"].(string); len(pw) < 12 {
		t.Errorf("create-user printed a one-time password of %d characters", len(pw))
	}
	if r := runBinary(t, bin, env, "create-user", "--email", "ed@meshwork.example", "--name", "Ed Again", "--role", "engineer"); r.code != 4 || !strings.Contains(r.stderr, "exists") {
		t.Errorf("create-user with a taken email: %+v, want exit 4", r)
	}
	for _, args := range [][]string{
		{"--email", "x@meshwork.example", "--name", "X", "--role", "wizard"},
		{"--email", "x@meshwork.example", "--name", "X", "--role", "service"},
		{"--email", "x@meshwork.example", "--role", "engineer"},
	} {
		if r := runBinary(t, bin, env, append([]string{"create-user"}, args...)...); r.code != 2 {
			t.Errorf("create-user %v: %+v, want exit 2", args, r)
		}
	}
	if r := runBinary(t, bin, env, "rotate-signing-key"); r.code != 0 || !strings.Contains(r.stdout, "new signing key") {
		t.Errorf("rotate-signing-key: %+v", r)
	}

	badKey := "c2hvcnQtc2VjcmV0LXZhbHVl"
	bad := runBinary(t, bin, []string{"DATABASE_URL=" + pg.URL, "KEY_ENCRYPTION_KEY=" + badKey}, "bootstrap-admin", "--email", "x@meshwork.example")
	if bad.code != 2 || !strings.Contains(bad.stderr, "KEY_ENCRYPTION_KEY") || strings.Contains(bad.stderr, badKey) {
		t.Errorf("bad KEK: %+v", bad)
	}
	if r := runBinary(t, bin, env, "no-such-command"); r.code != 2 {
		t.Errorf("unknown subcommand: %+v", r)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing set", map[string]string{}, []string{"DATABASE_URL: required", "REDIS_URL: required", "KEY_ENCRYPTION_KEY: required"}},
		{"short key", map[string]string{"DATABASE_URL": "postgres://x/y", "REDIS_URL": "redis://x", "KEY_ENCRYPTION_KEY": "c2VjcmV0LWtleQ=="},
			[]string{"KEY_ENCRYPTION_KEY: must be base64 of 32 random bytes"}},
		{"not base64", map[string]string{"DATABASE_URL": "postgres://x/y", "REDIS_URL": "redis://x", "KEY_ENCRYPTION_KEY": "%%%", "ACCESS_TOKEN_TTL": "-1m"},
			[]string{"KEY_ENCRYPTION_KEY: must be base64", "ACCESS_TOKEN_TTL: must be positive"}},
		{"bad retention", map[string]string{"DATABASE_URL": "postgres://x/y", "REDIS_URL": "redis://x", "KEY_ENCRYPTION_KEY": kek.Generate(),
			"AUDIT_RETENTION": "400d", "PRUNE_INTERVAL": "0s", "REFRESH_TOKEN_GRACE": "-1h"},
			[]string{"AUDIT_RETENTION", "PRUNE_INTERVAL: must be positive", "REFRESH_TOKEN_GRACE: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := run(ctx, func(k string) string { return tt.env[k] })
			var ce *service.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("run: %v, want a config error", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q lacks %q", err, w)
				}
			}
			if k := tt.env["KEY_ENCRYPTION_KEY"]; k != "" && strings.Contains(err.Error(), k) {
				t.Errorf("the error quotes the key: %v", err)
			}
		})
	}
}

func TestDefaultActivationDelayCoversTheReload(t *testing.T) {
	t.Parallel()
	cfg := config{Config: service.Defaults(":7001", ":8001")}
	env := map[string]string{"DATABASE_URL": "postgres://x/y", "REDIS_URL": "redis://x", "KEY_ENCRYPTION_KEY": kek.Generate()}
	if _, err := load(func(k string) string { return env[k] }, &cfg, &cfg.KEK); err != nil {
		t.Fatal(err)
	}
	if want := token.ActivationDelay(keyReload); cfg.KeyActivationDelay != want {
		t.Errorf("KEY_ACTIVATION_DELAY defaults to %v, want token.ActivationDelay(keyReload) = %v", cfg.KeyActivationDelay, want)
	}
}
