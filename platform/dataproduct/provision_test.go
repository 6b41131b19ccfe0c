package dataproduct_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

// TestConcurrentFirstProvisionR3: replicas of a domain starting together on the three-node
// cluster provision the same products for the first time at once, each over its own
// connection (to different nodes); every one succeeds, and the streams are R3. The first
// round creates the shared DEADLETTER stream too.
func TestConcurrentFirstProvisionR3(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := testinfra.StartNATSCluster(t)
	const replicas = 4
	var conns []jetstream.JetStream
	for range replicas {
		conns = append(conns, c.JetStream(t))
	}
	for round := range 5 {
		p := newProduct()
		p.Replicas = 3
		if !testinfra.Together(t, replicas, func(i int) error {
			_, err := dataproduct.Provision(ctx, conns[i], p)
			return err
		}) {
			t.Fatalf("round %d: a concurrent first Provision failed", round)
		}
		s, err := conns[0].Stream(ctx, p.StreamName())
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("round %d: stream replicas %d, want 3", round, got)
		}
	}
}
