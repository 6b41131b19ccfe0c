package dataproduct_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

var fastRetry = []time.Duration{10 * time.Millisecond}

func TestSubscribeDeliversDecodedEvent(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	at := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	seq := e.publish(pub, "machine-7", "hello", dataproduct.WithEventID("evt-7"), dataproduct.WithEventTime(at))
	ch := make(chan *dataproduct.Event, 1)
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "reader"}, dataproduct.Handle(
		func(ctx context.Context, ev *dataproduct.Event, msg *wrapperspb.StringValue) error {
			if msg.GetValue() != "hello" {
				return dataproduct.Permanent(fmt.Errorf("payload %q", msg.GetValue()))
			}
			ch <- ev
			return nil
		}))
	ev := e.recv(ch)
	if ev.ID != "evt-7" || ev.Key != "machine-7" || ev.Type != "google.protobuf.StringValue" ||
		ev.Source != "/domains/test" || !ev.Time.Equal(at) || ev.Sequence != seq || ev.NumDelivered != 1 ||
		ev.Subject != "dp."+e.p.ID()+".machine-7" {
		t.Fatalf("event = %+v", ev)
	}
	if _, err := dataproduct.Decode[*wrapperspb.Int64Value](ev); !errs.Is(err, errs.Invalid) {
		t.Fatalf("Decode to the wrong type = %v, want invalid", err)
	}
}

func TestHandlerErrorRedelivers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "k", "retry-me")
	ch := make(chan *dataproduct.Event, 4)
	calls := 0
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "flaky", Backoff: fastRetry}, func(ctx context.Context, ev *dataproduct.Event) error {
		calls++
		ch <- ev
		switch calls {
		case 1:
			return errors.New("transient")
		case 2:
			panic("boom")
		}
		return nil
	})
	for want := uint64(1); want <= 3; want++ {
		if ev := e.recv(ch); ev.NumDelivered != want {
			t.Fatalf("delivery %d has NumDelivered %d", want, ev.NumDelivered)
		}
	}
}

// TestStoppedBeforeAckRedelivers stops a subscription while its handler is running; the
// event comes back to the next subscriber of the same consumer domain.
func TestStoppedBeforeAckRedelivers(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "k", "interrupted", dataproduct.WithEventID("evt-int"))
	started := make(chan struct{})
	// A short AckWait: a redelivery racing the stop goes unacknowledged and comes back then.
	cfg := dataproduct.ConsumerConfig{ConsumerDomain: "worker", Backoff: fastRetry, AckWait: time.Second}
	first := e.subscribe(cfg, func(ctx context.Context, ev *dataproduct.Event) error {
		close(started)
		<-ctx.Done() // never finishes on its own
		return ctx.Err()
	})
	select {
	case <-started:
	case <-time.After(waitLimit):
		t.Fatal("first subscriber got nothing")
	}
	if err := first.Stop(e.ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	ch := make(chan *dataproduct.Event, 1)
	e.subscribe(cfg, sendTo(ch, nil))
	if ev := e.recv(ch); ev.ID != "evt-int" || ev.NumDelivered < 2 {
		t.Fatalf("second subscriber got %s delivery %d, want a redelivery of evt-int", ev.ID, ev.NumDelivered)
	}
}

// TestSlowHandlerIsNotRedelivered runs a handler for three times AckWait: the in-progress
// acknowledgements keep the server from handing the event out again meanwhile.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "k", "slow")
	var calls atomic.Int32
	ch := make(chan *dataproduct.Event, 4)
	// Concurrency 2: a redelivery would reach the second loop while the first handler sleeps.
	cfg := dataproduct.ConsumerConfig{ConsumerDomain: "slowpoke", AckWait: time.Second, Concurrency: 2}
	sub := e.subscribe(cfg, func(ctx context.Context, ev *dataproduct.Event) error {
		if calls.Add(1) == 1 {
			time.Sleep(3 * time.Second)
		}
		ch <- ev
		return nil
	})
	if ev := e.recv(ch); ev.NumDelivered != 1 {
		t.Fatalf("first handled delivery is number %d", ev.NumDelivered)
	}
	waitConsumer(t, e, "slowpoke", func(pending, ackPending uint64) bool { return pending == 0 && ackPending == 0 })
	info, err := sub.Consumer().Info(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || calls.Load() != 1 {
		t.Fatalf("redelivered %d, handler called %d times; want one delivery", info.NumRedelivered, calls.Load())
	}
}

func TestDrainFinishesInFlightHandler(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "k", "slow")
	started, release := make(chan struct{}), make(chan struct{})
	var finished atomic.Bool
	sub := e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "drainer"}, func(ctx context.Context, ev *dataproduct.Event) error {
		close(started)
		<-release
		finished.Store(ctx.Err() == nil)
		return nil
	})
	<-started
	done := make(chan error, 1)
	go func() { done <- sub.Drain(e.ctx) }()
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if !finished.Load() {
		t.Fatal("handler context was cancelled during Drain")
	}
	waitConsumer(t, e, "drainer", func(pending, ackPending uint64) bool { return pending == 0 && ackPending == 0 })
}

func TestMaxDeliverDeadLetters(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "k", "poison", dataproduct.WithEventID("evt-poison"))
	ch := make(chan *dataproduct.Event, 8)
	read := e.deadLetters("picky")
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "picky", MaxDeliver: 3, Backoff: fastRetry}, sendTo(ch, errors.New("cannot handle")))
	dl := read()
	h := dl.Headers()
	if !strings.Contains(h.Get(dataproduct.HeaderDLQReason), "cannot handle") || h.Get(dataproduct.HeaderDLQDeliveries) != "3" ||
		h.Get(dataproduct.HeaderDLQStream) != e.p.StreamName() || h.Get(dataproduct.HeaderDLQSequence) != "1" ||
		h.Get(dataproduct.HeaderDLQConsumer) != e.p.DurableName("picky") || h.Get(dataproduct.HeaderID) != "evt-poison" ||
		h.Get(dataproduct.HeaderDLQSubject) != "dp."+e.p.ID()+".k" {
		t.Fatalf("dead-letter headers = %v", h)
	}
	if got := len(ch); got != 3 {
		t.Fatalf("handler ran %d times, want 3", got)
	}
	waitConsumer(t, e, "picky", func(pending, ackPending uint64) bool { return pending == 0 && ackPending == 0 })
}

func TestPermanentErrorDeadLettersAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t)
	pub := e.publisher()
	e.publish(pub, "k", "bad-input")
	e.publish(pub, "k", "fine")
	ch := make(chan *dataproduct.Event, 2)
	read := e.deadLetters("strict")
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "strict"}, func(ctx context.Context, ev *dataproduct.Event) error {
		if ev.Message.(*wrapperspb.StringValue).GetValue() == "bad-input" {
			return fmt.Errorf("validate: %w", dataproduct.Permanent(errors.New("no such machine")))
		}
		ch <- ev
		return nil
	})
	dl := read()
	if h := dl.Headers(); h.Get(dataproduct.HeaderDLQDeliveries) != "1" || !strings.Contains(h.Get(dataproduct.HeaderDLQReason), "no such machine") {
		t.Fatalf("dead-letter headers = %v", h)
	}
	if ev := e.recv(ch); ev.Message.(*wrapperspb.StringValue).GetValue() != "fine" {
		t.Fatalf("next event = %v", ev.Message)
	}
}

func TestMalformedMessagesDeadLettered(t *testing.T) {
	t.Parallel()
	e := setup(t)
	good, err := dataproduct.NewMessage(e.ctx, e.p, "k", wrapperspb.String("x"))
	if err != nil {
		t.Fatal(err)
	}
	variant := func(change func(h nats.Header), data []byte) *nats.Msg {
		h := nats.Header{}
		for k, v := range good.Header {
			h[k] = v
		}
		h.Set(dataproduct.HeaderMsgID, fmt.Sprint(len(data), change != nil, time.Now().UnixNano()))
		if change != nil {
			change(h)
		}
		return &nats.Msg{Subject: good.Subject, Header: h, Data: data}
	}
	raw := []struct {
		msg    *nats.Msg
		reason string
	}{
		{&nats.Msg{Subject: good.Subject, Data: good.Data}, "ce-specversion"},
		{variant(func(h nats.Header) { h.Set(dataproduct.HeaderSpecVersion, "0.3") }, good.Data), "ce-specversion"},
		{variant(func(h nats.Header) { h.Del(dataproduct.HeaderID) }, good.Data), "ce-id"},
		{variant(func(h nats.Header) { h.Set(dataproduct.HeaderType, "mesh.other.v1.Thing") }, good.Data), "ce-type"},
		{variant(nil, []byte{0xff, 0xff, 0xff}), "payload"},
	}
	for _, r := range raw {
		if _, err := e.js.PublishMsg(e.ctx, r.msg); err != nil {
			t.Fatalf("raw publish: %v", err)
		}
	}
	e.publish(e.publisher(), "k", "good", dataproduct.WithEventID("evt-good"))

	ch := make(chan *dataproduct.Event, 8)
	read := e.deadLetters("robust")
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "robust"}, sendTo(ch, nil))
	if ev := e.recv(ch); ev.ID != "evt-good" {
		t.Fatalf("handler got %s, want only evt-good", ev.ID)
	}
	for i, r := range raw {
		h := read().Headers()
		reason := h.Get(dataproduct.HeaderDLQReason)
		if !strings.HasPrefix(reason, "malformed: ") || !strings.Contains(reason, r.reason) ||
			h.Get(dataproduct.HeaderDLQSequence) != strconv.Itoa(i+1) || h.Get(dataproduct.HeaderDLQDeliveries) != "1" {
			t.Errorf("dead letter %d: reason %q seq %s, want one about %s for seq %d", i, reason, h.Get(dataproduct.HeaderDLQSequence), r.reason, i+1)
		}
	}
	if len(ch) != 0 {
		t.Fatalf("handler got %d more events", len(ch))
	}
}

// waitConsumer waits until the consumer of domain satisfies ok(pending, ackPending).
func waitConsumer(t *testing.T, e *env, domain string, ok func(pending, ackPending uint64) bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		c, err := e.js.Consumer(e.ctx, e.p.StreamName(), e.p.DurableName(domain))
		if err != nil {
			t.Fatalf("consumer: %v", err)
		}
		info := c.CachedInfo()
		if ok(info.NumPending, uint64(info.NumAckPending)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("consumer %s: pending %d, ack pending %d", domain, info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
