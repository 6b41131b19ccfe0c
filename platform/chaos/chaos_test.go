package chaos

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func buildAll(t *testing.T) string {
	t.Helper()
	root, err := WorkspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	if err := BuildAll(root, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestChaosSmall is `make chaos`: the small run against the real binaries under meshctl up.
// Nothing may be lost or stored twice, no engineer double booked, and every fault the mesh
// can take injected, the kill -9 of a NATS node process included.
func TestChaosSmall(t *testing.T) {
	bin := buildAll(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log bytes.Buffer
	cfg := Small(bin)
	cfg.Log = &log
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("chaos run: %v\n%s", err, log.String())
	}
	var table bytes.Buffer
	rep.Write(&table, 1)
	t.Logf("\n%s", table.String())
	for _, p := range rep.Problems(1) {
		t.Error(p)
	}
	if len(rep.Counts) < 4 {
		t.Errorf("%d products counted, want raw, clean, faults and health at least", len(rep.Counts))
	}
	for _, c := range rep.Counts {
		if c.Expected == 0 {
			t.Errorf("%s: nothing expected, so nothing could be lost", c.Product)
		}
	}
	if rep.DoubleBookings < 0 {
		t.Error("scheduling's double bookings not measured")
	}
	for _, f := range rep.Faults {
		switch {
		case f.Unavailable != "":
			t.Errorf("fault %q not available: %s", f.Kind, f.Unavailable)
		case f.Unavailable == "" && (f.Injected < 1 || f.Failed > 0):
			t.Errorf("fault %q injected %d times, %d failed: %v", f.Kind, f.Injected, f.Failed, f.Notes)
		}
	}
	if t.Failed() {
		t.Logf("progress:\n%s", log.String())
	}
}
