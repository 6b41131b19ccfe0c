package launcher

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestNATSKeysAreKeptPrivately(t *testing.T) {
	dir := t.TempDir()
	a, err := loadNATSKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadNATSKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a != b || a.IssuerSeed == "" || a.IdentityPassword == "" {
		t.Fatalf("keys changed between starts or are empty: %+v %+v", a, b)
	}
	fi, err := os.Stat(filepath.Join(dir, SecretsFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("secrets.json: %v %v, want mode 0600", fi.Mode(), err)
	}
}

func TestNATSEnvSeedsTheTablesConsumers(t *testing.T) {
	k, err := loadNATSKeys(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	env := natsEnv(k, Services())
	want := "ACCESS_SEED=scheduling=identity.users.v1+pii,quality.machine-health.v1,quality.sensor-faults.v1,logistics.cell-travel-times.v1"
	if !slices.Contains(env[Catalog], want) {
		t.Errorf("catalog env %v lacks %s", env[Catalog], want)
	}
	if !slices.Contains(env[Identity], "NATS_TOKEN=svc-identity:"+k.IdentityPassword) {
		t.Errorf("identity env %v lacks its NATS credential", env[Identity])
	}
	for name, e := range env {
		if name != Catalog && slices.ContainsFunc(e, func(s string) bool { return len(s) > 17 && s[:17] == "NATS_ISSUER_SEED=" }) {
			t.Errorf("%s got the issuer seed", name)
		}
	}
}
