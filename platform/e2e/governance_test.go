package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// governance checks the data path under meshctl up: NATS refuses a connection without a
// token and the forged one, a user without grants can neither read a product nor forge a
// MachineHealth event, the audit stream cannot be deleted or purged even by the admin
// (natscli), and meshctl audit shows the refusals.
func (c clients) governance(t *testing.T, ctx context.Context) {
	t.Helper()
	if nc, err := nats.Connect(c.mesh.natsURL(), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("NATS admitted a connection without credentials")
	}
	if nc, err := nats.Connect(c.mesh.natsURL(), nats.Token("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzdmMtcXVhbGl0eSJ9.c2ln"), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("NATS admitted a forged token")
	}
	natscli := filepath.Join(c.bin, "nats")
	tok := c.token(t, ctx)
	for _, args := range [][]string{{"stream", "rm", "GOVERNANCE_AUDIT_V1", "-f"}, {"stream", "purge", "GOVERNANCE_AUDIT_V1", "-f"}} {
		if out, err := output(ctx, natscli, append([]string{"--server", c.mesh.natsURL(), "--token", tok}, args...)...); err == nil {
			t.Errorf("nats %s as admin succeeded:\n%s", strings.Join(args, " "), out)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := c.meshctl(t, ctx, "audit", "--action", "auth.refused", "-o", "json")
		if strings.Contains(out, "auth.refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshctl audit shows no refused connection:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
