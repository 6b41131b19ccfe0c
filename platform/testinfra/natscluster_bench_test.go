package testinfra_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

// BenchmarkPublish measures one synchronous SDK publish (dataproduct.Publisher.Publish, which
// waits for the stream's ack) on a single server with R1 streams and the server's default
// fsync, as `make run` runs, and on the three-node cluster of `meshctl up --ha` with R3
// streams and `sync_interval: always`. docs/benchmarks.md reports R3 as a ratio against R1.
func BenchmarkPublish(b *testing.B) {
	for _, bc := range []struct {
		name     string
		replicas int
		nats     func(testing.TB) *testinfra.NATS
	}{
		{"R1", 1, testinfra.StartNATS},
		{"R3-sync-always", 3, func(t testing.TB) *testinfra.NATS { return testinfra.StartNATSCluster(t).NATS }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			n := bc.nats(b)
			js := n.JetStream(b)
			ctx := context.Background()
			p := dataproduct.Product{Domain: "bench", Name: "readings", Major: 1, Owner: "bench",
				Contact: "bench@example.com", Description: "benchmark readings", Message: &wrapperspb.StringValue{},
				Classification: dataproduct.ClassInternal, Replicas: bc.replicas}
			if _, err := dataproduct.Provision(ctx, js, p); err != nil {
				b.Fatal(err)
			}
			pub, err := dataproduct.NewPublisher(js, p)
			if err != nil {
				b.Fatal(err)
			}
			msg := wrapperspb.String("a reading of about the size of a clean reading event")
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := pub.Publish(ctx, fmt.Sprintf("m%d", i%16), msg); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
