package natsauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/localserver"
)

// The cost of authentication on the data path, same process, same run: "open" is a server
// without authentication (what the mesh ran before), "callout" the mesh's server with a client
// admitted by the callout with computed permissions (every publish and subscription is checked
// against them). Run the pairs alternately on a busy machine:
//
//	go test ./natsauth -run '^$' -bench 'Auth' -benchtime 20000x -count 5

var benchProductAuth = dataproduct.Product{Domain: "quality", Name: "bench", Major: 1, Owner: "quality-team",
	Message: &wrapperspb.BytesValue{}, Classification: dataproduct.ClassInternal}

// benchConn returns a connection to an open server or to the mesh's authenticated one.
func benchConn(b *testing.B, authed bool) *nats.Conn {
	b.Helper()
	if !authed {
		n, err := localserver.StartNATS(localserver.NATSOptions{Dir: b.TempDir(), MonitorPort: -1, MQTTPort: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.Shutdown)
		nc, err := nats.Connect(n.URL())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return nc
	}
	m := newMesh(b)
	nc, err := m.dial("svc-quality", m.iss.Token(b, "svc-quality", []string{"service"}, nil), benchProductAuth.StreamName())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	return nc
}

func BenchmarkAuthPublish(b *testing.B) {
	for _, mode := range []struct {
		name   string
		authed bool
	}{{"open", false}, {"callout", true}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			nc := benchConn(b, mode.authed)
			js, _ := jetstream.New(nc)
			if _, err := dataproduct.Provision(ctx, js, benchProductAuth); err != nil {
				b.Fatal(err)
			}
			pub, err := dataproduct.NewPublisher(js, benchProductAuth)
			if err != nil {
				b.Fatal(err)
			}
			msg := wrapperspb.Bytes(make([]byte, 253))
			b.ResetTimer()
			for range b.N {
				if err := pub.PublishAsync(ctx, "m1", msg); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publishes not acknowledged")
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func BenchmarkAuthConsume(b *testing.B) {
	for _, mode := range []struct {
		name   string
		authed bool
	}{{"open", false}, {"callout", true}} {
		b.Run(mode.name, func(b *testing.B) {
			ctx := context.Background()
			nc := benchConn(b, mode.authed)
			js, _ := jetstream.New(nc)
			if _, err := dataproduct.Provision(ctx, js, benchProductAuth); err != nil {
				b.Fatal(err)
			}
			pub, _ := dataproduct.NewPublisher(js, benchProductAuth)
			msg := wrapperspb.Bytes(make([]byte, 253))
			for range b.N {
				if err := pub.PublishAsync(ctx, "m1", msg); err != nil {
					b.Fatal(err)
				}
			}
			<-js.PublishAsyncComplete()
			done := make(chan struct{})
			n := 0
			b.ResetTimer()
			sub, err := dataproduct.Subscribe(ctx, js, benchProductAuth, dataproduct.ConsumerConfig{ConsumerDomain: "quality"},
				func(context.Context, *dataproduct.Event) error {
					n++
					if n == b.N {
						close(done)
					}
					return nil
				})
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = sub.Stop(context.Background()) }()
			select {
			case <-done:
			case <-time.After(2 * time.Minute):
				b.Fatalf("consumed %d of %d", n, b.N)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkAuthConnect is connection set-up: open server vs through the callout (a token
// verified against the JWKS, cached after the first, and a user JWT signed per connection).
func BenchmarkAuthConnect(b *testing.B) {
	b.Run("open", func(b *testing.B) {
		n, err := localserver.StartNATS(localserver.NATSOptions{Dir: b.TempDir(), MonitorPort: -1, MQTTPort: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(n.Shutdown)
		b.ResetTimer()
		for range b.N {
			nc, err := nats.Connect(n.URL())
			if err != nil {
				b.Fatal(err)
			}
			nc.Close()
		}
	})
	b.Run("callout", func(b *testing.B) {
		m := newMesh(b)
		tok := m.iss.Token(b, "svc-quality", []string{"service"}, nil)
		b.ResetTimer()
		for range b.N {
			nc, err := m.dial("svc-quality", tok)
			if err != nil {
				b.Fatal(err)
			}
			nc.Close()
		}
	})
}
