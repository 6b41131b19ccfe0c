package partition_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
)

// BenchmarkConsume compares, in one run and on one embedded server, a single unpartitioned
// consumer (dataproduct.Subscribe, the baseline) with partitioned consumption over 4
// partitions by one and by two replicas. b.N events over 64 keys are published before the
// timer starts; the timer covers joining, the work stream's sourcing and handling every
// event with an ack. Report msgs/s as a ratio against impl=subscribe.
func BenchmarkConsume(b *testing.B) {
	for _, impl := range []struct {
		name     string
		replicas int
	}{{"subscribe", 0}, {"partitioned-4x1", 1}, {"partitioned-4x2", 2}} {
		b.Run("impl="+impl.name, func(b *testing.B) {
			e := setup(b)
			for i := range b.N {
				key := "machine-" + strconv.Itoa(i%64)
				if err := e.pub.PublishAsync(e.ctx, key, wrapperspb.String(key+"/"+strconv.Itoa(i/64))); err != nil {
					b.Fatal(err)
				}
			}
			if err := e.pub.Flush(e.ctx); err != nil {
				b.Fatal(err)
			}
			var handled atomic.Int64
			done := make(chan struct{})
			h := func(context.Context, *dataproduct.Event) error {
				if handled.Add(1) == int64(b.N) {
					close(done)
				}
				return nil
			}
			b.ResetTimer()
			if impl.replicas == 0 {
				sub, err := dataproduct.Subscribe(e.ctx, e.js, e.p, dataproduct.ConsumerConfig{ConsumerDomain: "quality"}, h)
				if err != nil {
					b.Fatal(err)
				}
				defer func() { _ = sub.Stop(context.Background()) }()
			}
			for r := range impl.replicas {
				cfg := fast("r"+strconv.Itoa(r), 4)
				e.join(e.nats.JetStream(b), cfg, h)
			}
			select {
			case <-done:
			case <-time.After(4 * waitLimit):
				b.Fatalf("handled %d of %d", handled.Load(), b.N)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkTakeover measures a crash takeover: two replicas over 4 partitions, the second
// holding one fetched event unacknowledged when its connection is closed. One op is the time
// from the close until the survivor has handled that event (redelivered after AckWait), with
// handover-ms, until it owns every partition. AckWait 1 s, heartbeat 100 ms, lease 1.5 s.
func BenchmarkTakeover(b *testing.B) {
	var total, handover time.Duration
	for range b.N {
		b.StopTimer()
		e := setup(b)
		var redelivered atomic.Int64
		got := make(chan struct{}, 1)
		ah := func(_ context.Context, ev *dataproduct.Event) error {
			if ev.NumDelivered > 1 && redelivered.Add(1) == 1 {
				got <- struct{}{}
			}
			return nil
		}
		a := e.join(e.js, fast("a", 4), ah)
		bconn := e.nats.Connect(b)
		bjs, err := jetstream.New(bconn)
		if err != nil {
			b.Fatal(err)
		}
		held := make(chan struct{}, 64)
		hold := make(chan struct{})
		bg, err := partition.Join(e.ctx, bjs, e.p, fast("b", 4), func(ctx context.Context, ev *dataproduct.Event) error {
			held <- struct{}{}
			<-hold
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		waitFor(b, "split", func() bool { return len(bg.Owned()) == 2 && exclusive(4, a, bg) })
		key := ""
		for i := 0; key == ""; i++ { // a key in one of b's partitions
			if k := "machine-" + strconv.Itoa(i); partition.Of(k, 4) == bg.Owned()[0] {
				key = k
			}
		}
		if _, err := e.pub.Publish(e.ctx, key, wrapperspb.String(key+"/0")); err != nil {
			b.Fatal(err)
		}
		<-held
		b.StartTimer()
		start := time.Now()
		bconn.Close()
		waitFor(b, "a owns all", func() bool { return len(a.Owned()) == 4 })
		handover += time.Since(start)
		select {
		case <-got:
		case <-time.After(waitLimit):
			b.Fatal("the held event was never redelivered to a")
		}
		total += time.Since(start)
		b.StopTimer()
		close(hold)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "takeover-ms")
	b.ReportMetric(float64(handover.Milliseconds())/float64(b.N), "handover-ms")
}

// BenchmarkTakeoverBaseline is BenchmarkTakeover's baseline: two replicas sharing one
// unpartitioned durable (dataproduct.Subscribe, AckWait 1 s); the first holds an event
// unacknowledged when its connection is closed, and one op is the time until the second has
// it redelivered. It has no ownership to hand over: only AckWait.
func BenchmarkTakeoverBaseline(b *testing.B) {
	var total time.Duration
	for range b.N {
		b.StopTimer()
		e := setup(b)
		cfg := dataproduct.ConsumerConfig{ConsumerDomain: "quality", AckWait: time.Second, Logger: fast("x", 1).Logger}
		bconn := e.nats.Connect(b)
		bjs, err := jetstream.New(bconn)
		if err != nil {
			b.Fatal(err)
		}
		held, hold := make(chan struct{}, 64), make(chan struct{})
		if _, err := dataproduct.Subscribe(e.ctx, bjs, e.p, cfg, func(context.Context, *dataproduct.Event) error {
			held <- struct{}{}
			<-hold
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if _, err := e.pub.Publish(e.ctx, "machine-0", wrapperspb.String("machine-0/0")); err != nil {
			b.Fatal(err)
		}
		<-held
		got := make(chan struct{}, 1)
		sub, err := dataproduct.Subscribe(e.ctx, e.js, e.p, cfg, func(_ context.Context, ev *dataproduct.Event) error {
			select {
			case got <- struct{}{}:
			default:
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		bconn.Close()
		select {
		case <-got:
		case <-time.After(waitLimit):
			b.Fatal("the held event was never redelivered")
		}
		total += time.Since(start)
		b.StopTimer()
		close(hold)
		_ = sub.Stop(context.Background())
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "takeover-ms")
}
