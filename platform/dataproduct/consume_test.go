package dataproduct_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
)

// TestReplicasSplitWork runs two subscriptions of one consumer domain, as two replicas would:
// together they handle every event exactly once, and each handles some.
func TestReplicasSplitWork(t *testing.T) {
	t.Parallel()
	e := setup(t)
	const n = 200
	var (
		mu    sync.Mutex
		seen  = map[string]int{}
		byRep [2]int
		all   = make(chan struct{})
	)
	handler := func(replica int) dataproduct.Handler {
		return func(ctx context.Context, ev *dataproduct.Event) error {
			mu.Lock()
			defer mu.Unlock()
			seen[ev.ID]++
			byRep[replica]++
			if len(seen) == n && byRep[0]+byRep[1] == n {
				close(all)
			}
			return nil
		}
	}
	// Separate connections, like separate processes; one event buffered per pull so both
	// replicas keep asking.
	for r := range 2 {
		js := e.nats.JetStream(t)
		sub, err := dataproduct.Subscribe(e.ctx, js, e.p, dataproduct.ConsumerConfig{ConsumerDomain: "pair", Batch: 1, Logger: e.log}, handler(r))
		if err != nil {
			t.Fatalf("Subscribe replica %d: %v", r, err)
		}
		t.Cleanup(func() { _ = sub.Stop(context.Background()) })
	}
	pub := e.publisher()
	for i := range n {
		if err := pub.PublishAsync(e.ctx, "k"+strconv.Itoa(i%7), wrapperspb.String(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(e.ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-all:
	case <-time.After(waitLimit):
		mu.Lock()
		defer mu.Unlock()
		state := "consumer info unavailable"
		if c, err := e.js.Consumer(e.ctx, e.p.StreamName(), e.p.DurableName("pair")); err == nil {
			if info, err := c.Info(e.ctx); err == nil {
				state = fmt.Sprintf("pending %d, ack pending %d, waiting pulls %d", info.NumPending, info.NumAckPending, info.NumWaiting)
			}
		}
		t.Fatalf("handled %d distinct of %d events (replicas %d and %d; %s)", len(seen), n, byRep[0], byRep[1], state)
	}
	waitConsumer(t, e, "pair", func(pending, ackPending uint64) bool { return pending == 0 && ackPending == 0 })
	mu.Lock()
	defer mu.Unlock()
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s handled %d times", id, c)
		}
	}
	if byRep[0] == 0 || byRep[1] == 0 {
		t.Errorf("replicas handled %d and %d events: the work was not split", byRep[0], byRep[1])
	}
}

func TestReplayFromStartSeqAndStartTime(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	for i := 1; i <= 3; i++ {
		e.publish(pub, "k", "early-"+strconv.Itoa(i))
	}
	midpoint := time.Now()
	for i := 4; i <= 5; i++ {
		e.publish(pub, "k", "late-"+strconv.Itoa(i))
	}
	tests := []struct {
		name string
		cfg  dataproduct.ConsumerConfig
		want []uint64
	}{
		{"everything by default", dataproduct.ConsumerConfig{ConsumerDomain: "from-all"}, []uint64{1, 2, 3, 4, 5}},
		{"from a time", dataproduct.ConsumerConfig{ConsumerDomain: "from-time", StartTime: midpoint}, []uint64{4, 5}},
		{"from sequence 3", dataproduct.ConsumerConfig{ConsumerDomain: "from-seq", StartSeq: 3}, []uint64{3, 4, 5}},
	}
	var last *dataproduct.Subscription
	for _, tt := range tests { // not subtests: the helpers report through the parent's t
		ch := make(chan *dataproduct.Event, 8)
		last = e.subscribe(tt.cfg, sendTo(ch, nil))
		var got []uint64
		for range tt.want {
			got = append(got, e.recv(ch).Sequence)
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("%s: sequences %v, want %v", tt.name, got, tt.want)
		}
	}
	// A replica joining later with another start resumes the existing durable.
	if err := last.Stop(e.ctx); err != nil {
		t.Fatal(err)
	}
	ch := make(chan *dataproduct.Event, 8)
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "from-seq", StartSeq: 1}, sendTo(ch, nil))
	seq := e.publish(pub, "k", "after")
	if ev := e.recv(ch); ev.Sequence != seq {
		t.Fatalf("joining replica got sequence %d, want %d", ev.Sequence, seq)
	}
}

func TestKeyFilter(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "machine-1", "a1")
	e.publish(pub, "machine-2", "b1")
	e.publish(pub, "machine-1", "a2")
	ch := make(chan *dataproduct.Event, 8)
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "one-machine", Key: "machine-1"}, sendTo(ch, nil))
	// With one handler, events arrive in stream order: if machine-2's event matched, it
	// would come before a2.
	for _, want := range []string{"a1", "a2"} {
		ev := e.recv(ch)
		if got := ev.Message.(*wrapperspb.StringValue).GetValue(); got != want || ev.Key != "machine-1" {
			t.Fatalf("got %s (key %s), want %s", got, ev.Key, want)
		}
	}
}

func TestSubscribeRejects(t *testing.T) {
	t.Parallel()
	e := setup(t)
	nop := func(context.Context, *dataproduct.Event) error { return nil }
	tests := []struct {
		name string
		p    dataproduct.Product
		cfg  dataproduct.ConsumerConfig
		h    dataproduct.Handler
	}{
		{"bad consumer domain", e.p, dataproduct.ConsumerConfig{ConsumerDomain: "Bad.Name"}, nop},
		{"bad key", e.p, dataproduct.ConsumerConfig{ConsumerDomain: "x", Key: "a.b"}, nop},
		{"both starts", e.p, dataproduct.ConsumerConfig{ConsumerDomain: "x", StartSeq: 2, StartTime: time.Now()}, nop},
		{"no handler", e.p, dataproduct.ConsumerConfig{ConsumerDomain: "x"}, nil},
		{"stream not provisioned", newProduct(), dataproduct.ConsumerConfig{ConsumerDomain: "x"}, nop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dataproduct.Subscribe(e.ctx, e.js, tt.p, tt.cfg, tt.h); err == nil {
				t.Fatal("Subscribe succeeded")
			}
		})
	}
}

// TestTraceContinuesAcrossNATS installs a tracer provider globally, so it does not run in
// parallel with tests that start after it.
func TestTraceContinuesAcrossNATS(t *testing.T) {
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})

	e := setup(t)
	got := make(chan trace.SpanContext, 1)
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "tracer"}, func(ctx context.Context, ev *dataproduct.Event) error {
		got <- trace.SpanContextFromContext(ctx)
		return nil
	})
	ctx, root := tp.Tracer("test").Start(e.ctx, "reading received")
	pub := e.publisher()
	if _, err := pub.Publish(ctx, "k", wrapperspb.String("traced")); err != nil {
		t.Fatal(err)
	}
	root.End()

	var handler trace.SpanContext
	select {
	case handler = <-got:
	case <-time.After(waitLimit):
		t.Fatal("no event")
	}
	if handler.TraceID() != root.SpanContext().TraceID() {
		t.Fatalf("handler trace %s, want the publisher's %s", handler.TraceID(), root.SpanContext().TraceID())
	}
	var producer, consumer *tracetest.SpanStub
	for _, s := range exporter.GetSpans() {
		switch {
		case s.SpanKind == trace.SpanKindProducer && s.SpanContext.TraceID() == handler.TraceID():
			producer = &s
		case s.SpanKind == trace.SpanKindConsumer && s.SpanContext.SpanID() == handler.SpanID():
			consumer = &s
		}
	}
	if producer == nil || producer.Parent.SpanID() != root.SpanContext().SpanID() {
		t.Fatalf("producer span %+v, want a child of the root span", producer)
	}
	// The consumer span ends after the handler returns; it is exported by then or soon.
	deadline := time.Now().Add(waitLimit)
	for consumer == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		for _, s := range exporter.GetSpans() {
			if s.SpanKind == trace.SpanKindConsumer && s.SpanContext.SpanID() == handler.SpanID() {
				consumer = &s
			}
		}
	}
	if consumer == nil || consumer.Parent.SpanID() != producer.SpanContext.SpanID() || !consumer.Parent.IsRemote() {
		t.Fatalf("consumer span %+v, want a remote child of the producer span %s", consumer, producer.SpanContext.SpanID())
	}
}

// TestConcurrencyRunsHandlersTogether holds every handler until three run at once, which
// only Concurrency: 3 allows.
func TestConcurrencyRunsHandlersTogether(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	for i := range 3 {
		e.publish(pub, "k"+strconv.Itoa(i), "v")
	}
	var (
		mu      sync.Mutex
		inside  int
		release = make(chan struct{})
		handled = make(chan *dataproduct.Event, 3)
	)
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "parallel", Concurrency: 3, Batch: 1}, func(ctx context.Context, ev *dataproduct.Event) error {
		mu.Lock()
		if inside++; inside == 3 {
			close(release)
		}
		mu.Unlock()
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		handled <- ev
		return nil
	})
	for range 3 {
		e.recv(handled)
	}
}
