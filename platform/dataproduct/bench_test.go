package dataproduct_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

// The benchmarks compare the SDK with plain nats.go on the same embedded server: "raw"
// publishes a prebuilt message with the same headers and payload size (only Nats-Msg-Id
// changes) and consumes with Consume + Ack; "sdk" uses PublishAsync and Subscribe. Both
// report msgs/s. The server runs in the benchmark process, so on a busy machine run raw and
// sdk alternately (-bench 'PublishAsync/raw$', then sdk, repeatedly) and compare pairs.

// payloadSize is the encoded event size both variants move.
const payloadSize = 256

// benchKey is the subject key of every benchmark event.
const benchKey = "machine-0001"

// benchPayload is a BytesValue whose encoding is exactly payloadSize bytes.
func benchPayload(b *testing.B) *wrapperspb.BytesValue {
	msg := wrapperspb.Bytes(bytes.Repeat([]byte{0xab}, payloadSize-3)) // tag + 2-byte length
	if n := proto.Size(msg); n != payloadSize {
		b.Fatalf("payload encodes to %d bytes, want %d", n, payloadSize)
	}
	return msg
}

var benchSeq atomic.Int64

// benchProduct provisions a fresh product carrying BytesValue for one benchmark run, so that
// every run starts from an empty stream and an empty de-duplication window; the stream is
// deleted when the run ends.
func benchProduct(b *testing.B, ctx context.Context, js jetstream.JetStream, name string) (dataproduct.Product, jetstream.Stream) {
	p := dataproduct.Product{
		Domain: "bench", Name: name + "-" + strconv.FormatInt(benchSeq.Add(1), 10), Major: 1, Owner: "platform-team",
		Message: &wrapperspb.BytesValue{}, Classification: dataproduct.ClassInternal,
	}
	s, err := dataproduct.Provision(ctx, js, p)
	if err != nil {
		b.Fatalf("Provision: %v", err)
	}
	b.Cleanup(func() { _ = js.DeleteStream(context.Background(), p.StreamName()) })
	return p, s
}

// rawMessage is a prebuilt message with the SDK's header count and payload size; only its
// Nats-Msg-Id changes per publish, as de-duplication needs.
func rawMessage(b *testing.B, p dataproduct.Product) *nats.Msg {
	m, err := dataproduct.NewMessage(context.Background(), p, benchKey, benchPayload(b))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkPublishAsync(b *testing.B) {
	n := testinfra.StartNATS(b)
	ctx := context.Background()

	b.Run("impl=raw", func(b *testing.B) {
		js, err := jetstream.New(n.Connect(b), jetstream.WithPublishAsyncMaxPending(dataproduct.DefaultMaxPending))
		if err != nil {
			b.Fatal(err)
		}
		p, _ := benchProduct(b, ctx, js, "publish-raw")
		m := rawMessage(b, p)
		b.SetBytes(payloadSize)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			m.Header[jetstream.MsgIDHeader] = []string{nuid.Next()}
			for {
				_, err := js.PublishMsgAsync(m)
				if err == nil {
					break
				}
				if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
					b.Fatal(err)
				}
			}
		}
		<-js.PublishAsyncComplete()
		b.StopTimer()
		reportRate(b)
	})

	b.Run("impl=sdk", func(b *testing.B) {
		js, err := jetstream.New(n.Connect(b))
		if err != nil {
			b.Fatal(err)
		}
		p, _ := benchProduct(b, ctx, js, "publish-sdk")
		pub, err := dataproduct.NewPublisher(js, p)
		if err != nil {
			b.Fatal(err)
		}
		msg := benchPayload(b)
		b.SetBytes(payloadSize)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := pub.PublishAsync(ctx, benchKey, msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := pub.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		reportRate(b)
		_ = pub.Close(ctx)
	})
}

// fill stores count events in p's stream, untimed.
func fill(b *testing.B, ctx context.Context, js jetstream.JetStream, p dataproduct.Product, count int) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	pub, err := dataproduct.NewPublisher(js, p)
	if err != nil {
		b.Fatal(err)
	}
	msg := benchPayload(b)
	for range count {
		if err := pub.PublishAsync(ctx, benchKey, msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := pub.Close(ctx); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkConsume(b *testing.B) {
	n := testinfra.StartNATS(b)
	ctx := context.Background()

	b.Run("impl=raw", func(b *testing.B) {
		js := n.JetStream(b)
		p, s := benchProduct(b, ctx, js, "consume-raw")
		fill(b, ctx, js, p, b.N)
		b.SetBytes(payloadSize)
		b.ReportAllocs()
		b.ResetTimer()
		c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:   "raw",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: dataproduct.DefaultAckWait, MaxDeliver: -1,
		})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		count := 0
		cc, err := c.Consume(func(msg jetstream.Msg) {
			if err := msg.Ack(); err != nil {
				b.Error(err)
			}
			if count++; count == b.N {
				close(done)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		wait(b, done)
		b.StopTimer()
		reportRate(b)
		cc.Stop()
	})

	b.Run("impl=sdk", func(b *testing.B) {
		js := n.JetStream(b)
		p, _ := benchProduct(b, ctx, js, "consume-sdk")
		fill(b, ctx, js, p, b.N)
		b.SetBytes(payloadSize)
		b.ReportAllocs()
		b.ResetTimer()
		done := make(chan struct{})
		count := 0
		sub, err := dataproduct.Subscribe(ctx, js, p, dataproduct.ConsumerConfig{ConsumerDomain: "sdk"},
			func(ctx context.Context, ev *dataproduct.Event) error {
				if count++; count == b.N {
					close(done)
				}
				return nil
			})
		if err != nil {
			b.Fatal(err)
		}
		wait(b, done)
		b.StopTimer()
		reportRate(b)
		_ = sub.Stop(ctx)
	})
}

// wait blocks until done closes; the limit only keeps a broken run from hanging.
func wait(b *testing.B, done <-chan struct{}) {
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatal("consumer did not finish")
	}
}
