package partition

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
)

// streamSourceHeader is where the server records a sourced message's origin stream and sequence.
const streamSourceHeader = "Nats-Stream-Source"

// deadLetterTimeout bounds one dead-letter publish (as in package dataproduct).
const deadLetterTimeout = 10 * time.Second

// deliver handles one delivery of partition part: decode, run the handler, then ack, nak
// with backoff or dead-letter — dataproduct.Subscribe's outcomes.
func (g *Group) deliver(ctx context.Context, part int, msg jetstream.Msg) {
	meta, err := msg.Metadata()
	if err != nil {
		g.cfg.Logger.Error("partition: delivery without metadata", "consumer", g.names.consumer(part), "error", err)
		return
	}
	ev, reason := g.decode(msg, meta)
	if reason != "" {
		g.deadLetter(msg, meta, ev, "malformed: "+reason)
		return
	}
	if g.rules != nil {
		var failed []string
		for _, v := range g.rules.Check(ev.Message, ev.Key) {
			if v.Rule.Policy == rules.Count {
				ev.Violations = append(ev.Violations, v)
			} else {
				failed = append(failed, v.String())
			}
		}
		if len(failed) > 0 {
			g.deadLetter(msg, meta, ev, strings.Join(failed, "; "))
			return
		}
	}
	if meta.NumDelivered > uint64(g.cfg.MaxDeliver) {
		g.deadLetter(msg, meta, ev, fmt.Sprintf("delivered %d times without success (max %d)", meta.NumDelivered, g.cfg.MaxDeliver))
		return
	}
	err = g.run(context.WithValue(ctx, partitionKey{}, part), msg, ev)
	switch {
	case err == nil:
		if err := msg.Ack(); err != nil {
			g.cfg.Logger.Warn("partition: ack", "consumer", g.names.consumer(part), "error", err)
		}
	case dataproduct.IsPermanent(err):
		g.deadLetter(msg, meta, ev, err.Error())
	case ctx.Err() == nil && meta.NumDelivered >= uint64(g.cfg.MaxDeliver):
		g.deadLetter(msg, meta, ev, fmt.Sprintf("handler failed on delivery %d of %d: %v", meta.NumDelivered, g.cfg.MaxDeliver, err))
	default:
		g.nak(msg, meta)
	}
}

// decode checks the CloudEvents headers and decodes the payload. The returned event carries
// the product stream's subject and sequence, from the key and the Nats-Stream-Source header.
func (g *Group) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) (*dataproduct.Event, string) {
	h := msg.Headers()
	subject := msg.Subject()
	key := subject[strings.LastIndexByte(subject, '.')+1:]
	ev := &dataproduct.Event{
		Key: key, Subject: "dp." + g.product.ID() + "." + key, Sequence: sourceSeq(h.Get(streamSourceHeader)),
		NumDelivered: meta.NumDelivered, Headers: h, Data: msg.Data(), Time: meta.Timestamp,
	}
	if v := h.Get(dataproduct.HeaderSpecVersion); v != dataproduct.SpecVersion {
		return ev, fmt.Sprintf("%s is %q, want %q", dataproduct.HeaderSpecVersion, v, dataproduct.SpecVersion)
	}
	if ev.ID = h.Get(dataproduct.HeaderID); ev.ID == "" {
		return ev, dataproduct.HeaderID + " is missing"
	}
	if ev.Type = h.Get(dataproduct.HeaderType); ev.Type != g.typeName {
		return ev, fmt.Sprintf("%s is %q, want %q", dataproduct.HeaderType, ev.Type, g.typeName)
	}
	if v := h.Get(dataproduct.HeaderTime); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return ev, fmt.Sprintf("%s %q is not an RFC 3339 time", dataproduct.HeaderTime, v)
		}
		ev.Time = t
	}
	ev.Source = h.Get(dataproduct.HeaderSource)
	m := g.product.Message.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(msg.Data(), m); err != nil {
		return ev, fmt.Sprintf("payload does not decode as %s: %v", g.typeName, err)
	}
	ev.Message = m
	return ev, ""
}

// sourceSeq is the origin sequence in a Nats-Stream-Source header ("<stream> <seq> …").
func sourceSeq(v string) uint64 {
	f := strings.Fields(v)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseUint(f[1], 10, 64)
	return n
}

// run calls the handler, recovering a panic, and reports the delivery in progress every half
// AckWait while it runs.
func (g *Group) run(ctx context.Context, msg jetstream.Msg, ev *dataproduct.Event) (err error) {
	var mu sync.Mutex
	stopped := false
	var timer *time.Timer
	every := g.cfg.AckWait / 2
	mu.Lock()
	timer = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			_ = msg.InProgress()
			timer.Reset(every)
		}
	})
	mu.Unlock()
	defer func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
	}()
	defer func() {
		if r := recover(); r != nil {
			g.cfg.Logger.Error("partition: handler panicked", "consumer", g.names.durable, "event", ev.ID, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	return g.handler(ctx, ev)
}

// nak hands the event back for redelivery after the backoff for its delivery count.
func (g *Group) nak(msg jetstream.Msg, meta *jetstream.MsgMetadata) {
	i := min(int(meta.NumDelivered), len(g.cfg.Backoff)) - 1
	if err := msg.NakWithDelay(g.cfg.Backoff[max(i, 0)]); err != nil {
		g.cfg.Logger.Warn("partition: nak", "consumer", g.names.durable, "error", err)
	}
}

// deadLetter parks msg on the consumer domain's dead-letter subject with dataproduct's
// headers, naming the product stream and sequence as Subscribe would (so the copy's
// Nats-Msg-Id is the same for the same event), then terminates it. A failed publish hands the
// event back instead.
func (g *Group) deadLetter(msg jetstream.Msg, meta *jetstream.MsgMetadata, ev *dataproduct.Event, reason string) {
	dl := dataproduct.DeadLetter(g.names.dlq, g.names.durable, msg, meta, reason)
	seq := strconv.FormatUint(ev.Sequence, 10)
	dl.Header.Set(dataproduct.HeaderDLQSubject, ev.Subject)
	dl.Header.Set(dataproduct.HeaderDLQStream, g.product.StreamName())
	dl.Header.Set(dataproduct.HeaderDLQSequence, seq)
	dl.Header.Set(dataproduct.HeaderMsgID, g.names.durable+":"+g.product.StreamName()+":"+seq)
	ctx, cancel := context.WithTimeout(context.Background(), deadLetterTimeout)
	defer cancel()
	if _, err := g.js.PublishMsg(ctx, dl); err != nil {
		g.cfg.Logger.Error("partition: dead-letter publish failed, event handed back", "consumer", g.names.durable, "reason", reason, "error", err)
		g.nak(msg, meta)
		return
	}
	g.cfg.Logger.Warn("partition: event dead-lettered", "consumer", g.names.durable, "seq", seq, "reason", reason)
	if err := msg.TermWithReason(reason); err != nil {
		g.cfg.Logger.Warn("partition: term", "consumer", g.names.durable, "error", err)
	}
}
