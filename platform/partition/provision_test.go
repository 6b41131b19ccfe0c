package partition_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
	"meshwork.dev/platform/testinfra"
)

// TestReplicasJoinTogetherR3: the replicas of a domain start at the same moment on the
// three-node cluster and join the partitioned consumption of a fresh R3 product, each over its
// own connection: the first provisioning of the work stream, consumers and bucket is raced,
// every replica joins, and the work stream and bucket are R3 like the product's stream.
func TestReplicasJoinTogetherR3(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := testinfra.StartNATSCluster(t)
	p := dataproduct.Product{
		Domain: "test", Name: "readings-" + strconv.FormatInt(seq.Add(1), 10), Major: 1, Owner: "platform-team",
		Message: &wrapperspb.StringValue{}, Classification: dataproduct.ClassInternal, Replicas: 3,
	}
	const replicas = 3
	js := make([]jetstream.JetStream, replicas)
	for i := range js {
		js[i] = c.JetStream(t)
	}
	if _, err := dataproduct.Provision(ctx, js[0], p); err != nil {
		t.Fatal(err)
	}
	groups := make([]*partition.Group, replicas)
	testinfra.Together(t, replicas, func(i int) error {
		var err error
		groups[i], err = partition.Join(ctx, js[i], p, fast(strconv.Itoa(i+1), 4),
			func(context.Context, *dataproduct.Event) error { return nil })
		return err
	})
	for _, name := range partition.Streams(p, "quality") {
		s, err := js[0].Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("stream %s: %d replicas, want the product's 3", name, got)
		}
	}
	for _, g := range groups {
		if g != nil {
			if err := g.Leave(ctx); err != nil {
				t.Errorf("Leave: %v", err)
			}
		}
	}
}
