package natsauth_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/partition"
)

// health is a product of quality's that other domains may be granted.
var health = dataproduct.Product{
	Domain: "quality", Name: "machine-health", Major: 1, Owner: "quality-team",
	Message: &wrapperspb.StringValue{}, Classification: dataproduct.ClassInternal,
}

func partitionConfig(domain string) partition.Config {
	return partition.Config{
		ConsumerDomain: domain, Partitions: 2, Replica: domain + "-1",
		AckWait: time.Second, Heartbeat: 100 * time.Millisecond, Lease: 1500 * time.Millisecond,
		FetchWait: 200 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// received returns a handler passing event values to a channel.
func received() (dataproduct.Handler, <-chan string) {
	ch := make(chan string, 16)
	return func(_ context.Context, ev *dataproduct.Event) error {
		ch <- ev.Message.(*wrapperspb.StringValue).GetValue()
		return nil
	}, ch
}

func expect(t *testing.T, who string, ch <-chan string, want string) {
	t.Helper()
	select {
	case v := <-ch:
		if v != want {
			t.Fatalf("%s received %q, want %q", who, v, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("%s received nothing", who)
	}
}

// TestGrantOpensPartitionedConsumption: a domain granted a product may consume it in
// partitions (its work stream, the partition consumers, its membership bucket); a domain
// without the grant may do none of it, neither under its own name nor under the granted
// domain's; the owner consumes its own product in partitions after declaring the streams.
func TestGrantOpensPartitionedConsumption(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	quality := m.service(t, "quality", append([]string{health.StreamName()}, partition.Streams(health, "quality")...)...)
	qjs, _ := jetstream.New(quality, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := dataproduct.Provision(ctx, qjs, health); err != nil {
		t.Fatalf("quality provisions its product: %v", err)
	}
	pub, err := dataproduct.NewPublisher(qjs, health)
	if err != nil {
		t.Fatal(err)
	}
	m.grant("scheduling", natsauth.Grant{Product: health.ID()})
	sched := m.service(t, "scheduling")
	sjs, _ := jetstream.New(sched, jetstream.WithDefaultTimeout(2*time.Second))
	h, got := received()
	g, err := partition.Join(ctx, sjs, health, partitionConfig("scheduling"), h)
	if err != nil {
		t.Fatalf("scheduling joins its partitioned consumption of a granted product: %v", err)
	}
	defer func() { _ = g.Leave(context.Background()) }()
	// The owner, with its declared work stream and bucket.
	qh, qgot := received()
	qg, err := partition.Join(ctx, qjs, health, partitionConfig("quality"), qh)
	if err != nil {
		t.Fatalf("quality joins its partitioned consumption of its own product: %v", err)
	}
	defer func() { _ = qg.Leave(context.Background()) }()
	if _, err := pub.Publish(ctx, "m1", wrapperspb.String("critical")); err != nil {
		t.Fatal(err)
	}
	expect(t, "scheduling", got, "critical")
	expect(t, "quality", qgot, "critical")

	// identity holds no grant: it cannot join, under its name or scheduling's.
	identity := m.service(t, "identity", partition.Streams(health, "scheduling")...)
	ijs, _ := jetstream.New(identity, jetstream.WithDefaultTimeout(time.Second))
	short, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	for _, domain := range []string{"identity", "scheduling"} {
		if g, err := partition.Join(short, ijs, health, partitionConfig(domain), h); err == nil {
			_ = g.Leave(context.Background())
			t.Errorf("identity joined the partitioned consumption of %s as %s", health.ID(), domain)
		}
	}
	// Nor can it touch scheduling's work stream, partition consumers or bucket directly.
	work := partition.StreamNameOf("scheduling", health.ID())
	if _, err := ijs.Stream(short, work); err == nil {
		t.Error("identity looked up scheduling's work stream")
	}
	if err := ijs.DeleteConsumer(short, work, health.DurableName("scheduling")+"--p0"); err == nil {
		t.Error("identity deleted a partition consumer of scheduling's")
	}
	bucket := partition.BucketOf("scheduling", health.ID())
	if _, err := ijs.KeyValue(short, bucket); err == nil {
		t.Error("identity opened scheduling's membership bucket")
	}
	if _, err := ijs.Publish(short, "$KV."+bucket+".owner.0", []byte("identity")); err == nil {
		t.Error("identity claimed a partition in scheduling's bucket")
	}
	if err := ijs.DeleteStream(short, "KV_"+bucket); err == nil {
		t.Error("identity deleted scheduling's membership bucket")
	}
	// The grant is for its partitions only: scheduling cannot publish into its work stream.
	if err := sched.Publish("pt.scheduling."+health.ID()+".0.m1", []byte("forged")); err != nil {
		t.Fatal(err)
	}
	if err := sched.Flush(); err != nil && !isPermission(err) {
		t.Fatal(err)
	}
	s, err := sjs.Stream(ctx, work)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.State.Msgs > 1 {
		t.Fatalf("work stream after a forged publish: %+v, %v", info, err)
	}
	// Revoked: scheduling loses it all at its next connection.
	m.mu.Lock()
	delete(m.grants, "scheduling")
	m.mu.Unlock()
	again := m.service(t, "scheduling")
	ajs, _ := jetstream.New(again, jetstream.WithDefaultTimeout(time.Second))
	if _, err := ajs.KeyValue(short, bucket); err == nil {
		t.Error("scheduling opened its membership bucket without the grant")
	}
	if _, err := ajs.Stream(short, work); err == nil {
		t.Error("scheduling looked up its work stream without the grant")
	}
}
