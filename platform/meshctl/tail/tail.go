// Package tail follows a data product's stream for people and scripts, as `meshctl tail`
// does: it reads the product's JetStream stream through an ephemeral ordered consumer
// (never a durable, so tailing leaves no trace in the product's lineage), optionally
// filtered on one key, decodes every payload with the schema registered in the catalog, and
// hands each event on as an Event ready to print as one JSON line.
//
// Where reading starts: at a stream sequence (Options.StartSeq), at a time (Options.Since),
// or else with the last Options.Last events (of the key, when one is given) before the new
// ones, like tail(1). It stops when the context ends, after Options.Limit events, or, when
// not following, once it has caught up with the stream.
package tail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

// inactiveThreshold is how long the server keeps tail's consumer after tail stops pulling.
const inactiveThreshold = 30 * time.Second

// DefaultLast is how many past events tail shows before following when no start is given.
const DefaultLast = 10

// Options say which events to read and when to stop.
type Options struct {
	// Key restricts the events to one subject key (a machine id, a vehicle id …).
	Key string
	// StartSeq starts at this stream sequence (0: not set).
	StartSeq uint64
	// Since starts with the events stored at or after this time (zero: not set).
	Since time.Time
	// Last is, when neither StartSeq nor Since is set, how many of the newest stored events
	// to show first; 0 shows only events published from now on.
	Last int
	// Follow keeps waiting for new events; without it Run returns once it has caught up.
	Follow bool
	// Limit stops after this many events (0: no limit).
	Limit int
}

// Event is one event as tail prints it. Data holds the payload as protojson; when the
// payload cannot be decoded, Data is empty and Error says why.
type Event struct {
	// Seq is the event's sequence in the product's stream.
	Seq uint64 `json:"seq"`
	// Subject is the NATS subject, dp.<domain>.<product>.v<major>.<key>.
	Subject string `json:"subject"`
	// ID is the CloudEvents id (ce-id).
	ID string `json:"id"`
	// Time is ce-time, or the time the stream stored the event when ce-time is missing.
	Time string `json:"time"`
	// Type is the payload's full protobuf name (ce-type).
	Type string `json:"type"`
	// Key is the subject key (ce-subject, or the subject's last token).
	Key string `json:"key"`
	// Data is the decoded payload as JSON.
	Data json.RawMessage `json:"data,omitempty"`
	// Error says why the payload did not decode.
	Error string `json:"error,omitempty"`
}

// Line renders e compactly for people: "#<seq> <time> <key> <payload JSON>", the time in
// UTC to the millisecond, and the decoding error in place of the payload.
func (e Event) Line() string {
	body := string(e.Data)
	if e.Error != "" {
		body = "error: " + e.Error
	}
	at := e.Time
	if t, err := time.Parse(time.RFC3339Nano, e.Time); err == nil {
		at = t.UTC().Format(lineTime)
	}
	return "#" + strconv.FormatUint(e.Seq, 10) + " " + at + " " + e.Key + " " + body
}

// lineTime is the time layout of Line.
const lineTime = "2006-01-02T15:04:05.000Z07:00"

// Run reads the stream of the product described by desc and calls emit with each event, in
// stream order. An event whose payload does not decode is emitted with Error set and the
// reading goes on. Run returns nil when ctx ends, when Limit events were emitted, or (not
// following) once caught up; it returns emit's error, or why the stream cannot be read.
func Run(ctx context.Context, js jetstream.JetStream, desc *platformv1.DataProductDescriptor, opts Options, emit func(Event) error) error {
	const op = "tail.Run"
	dec, err := NewDecoder(desc.GetSchema())
	if err != nil {
		return fmt.Errorf("%s: %s: %w", op, desc.GetName(), err)
	}
	filter, err := Filter(desc, opts.Key)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	stream, err := js.Stream(ctx, desc.GetStream())
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%s: stream %s of %s does not exist (has its producer started?): %w", op, desc.GetStream(), desc.GetName(), err)
	}
	if err != nil {
		return fmt.Errorf("%s: stream %s: %w", op, desc.GetStream(), err)
	}
	cfg, skipping, err := consumerConfig(ctx, stream, filter, opts)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	cons, err := stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%s: consumer on %s: %w", op, filter, err)
	}
	// The backlog is what was stored when the consumer started: Last mode shows its newest
	// events, and without Follow reading ends with it even while the producer publishes on.
	var backlog uint64
	if info := cons.CachedInfo(); info != nil {
		backlog = info.NumPending
	}
	if !opts.Follow && backlog == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("%s: consume %s: %w", op, filter, err)
	}
	defer it.Stop()

	emitted := 0
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: next event on %s: %w", op, filter, err)
		}
		meta, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("%s: event metadata: %w", op, err)
		}
		backlog = max(backlog, 1) - 1 // events of the starting backlog still to come
		// Catching up in Last mode: let through only the newest Last of the backlog.
		if skipping && backlog >= uint64(opts.Last) {
			continue
		}
		skipping = false
		if err := emit(toEvent(msg, meta, dec)); err != nil {
			return err
		}
		emitted++
		if opts.Limit > 0 && emitted >= opts.Limit {
			return nil
		}
		if !opts.Follow && (backlog == 0 || meta.NumPending == 0) {
			return nil
		}
	}
}

// Filter is the subject tail reads: the product's subject for key, or every key's when key
// is empty. The prefix comes from the descriptor's first subject (dp.<id>.>), falling back
// to the architecture's naming when the descriptor lists none.
func Filter(desc *platformv1.DataProductDescriptor, key string) (string, error) {
	prefix := "dp." + desc.GetName() + "."
	if subs := desc.GetSubjects(); len(subs) > 0 && strings.HasSuffix(subs[0], ".>") {
		prefix = strings.TrimSuffix(subs[0], ">")
	}
	if key == "" {
		return prefix + ">", nil
	}
	if err := dataproduct.ValidKey(key); err != nil {
		return "", fmt.Errorf("tail.Filter: %w", err)
	}
	return prefix + key, nil
}

// consumerConfig picks the ordered consumer's start. It reports skipping when Run must
// drop events until only the newest opts.Last are left (Last mode); without a key the start
// sequence already lands there, with a key only the server knows where the key's last
// events begin, so the older ones are read and dropped.
func consumerConfig(ctx context.Context, stream jetstream.Stream, filter string, opts Options) (jetstream.OrderedConsumerConfig, bool, error) {
	// A short inactivity threshold makes the server drop the ephemeral consumer soon after
	// tail exits, so it does not linger in the catalog's list of the stream's consumers.
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{filter}, InactiveThreshold: inactiveThreshold}
	switch {
	case opts.StartSeq > 0:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = opts.StartSeq
		return cfg, false, nil
	case !opts.Since.IsZero():
		since := opts.Since
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &since
		return cfg, false, nil
	case opts.Last <= 0:
		cfg.DeliverPolicy = jetstream.DeliverNewPolicy
		return cfg, false, nil
	}
	cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	if opts.Key == "" {
		info, err := stream.Info(ctx)
		if err != nil {
			return cfg, false, fmt.Errorf("stream info: %w", err)
		}
		if last := info.State.LastSeq; last >= uint64(opts.Last) && last-uint64(opts.Last)+1 > info.State.FirstSeq {
			cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
			cfg.OptStartSeq = last - uint64(opts.Last) + 1
		}
	}
	return cfg, true, nil
}

// toEvent renders one stream message, decoding its payload with dec.
func toEvent(msg jetstream.Msg, meta *jetstream.MsgMetadata, dec *Decoder) Event {
	h := msg.Headers()
	ev := Event{
		Seq:     meta.Sequence.Stream,
		Subject: msg.Subject(),
		ID:      h.Get(dataproduct.HeaderID),
		Time:    h.Get(dataproduct.HeaderTime),
		Type:    h.Get(dataproduct.HeaderType),
		Key:     h.Get(dataproduct.HeaderSubject),
	}
	if ev.Time == "" {
		ev.Time = meta.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	if ev.Key == "" {
		ev.Key = ev.Subject[strings.LastIndexByte(ev.Subject, '.')+1:]
	}
	if ev.Type != "" && ev.Type != dec.MessageName() {
		ev.Error = fmt.Sprintf("ce-type %s is not the product's payload %s", ev.Type, dec.MessageName())
		return ev
	}
	data, err := dec.JSON(msg.Data())
	if err != nil {
		ev.Error = err.Error()
		return ev
	}
	ev.Data = data
	return ev
}
