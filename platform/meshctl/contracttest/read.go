package contracttest

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// inactiveThreshold makes the server drop the ephemeral consumer soon after the test.
const inactiveThreshold = 10 * time.Second

// fetchWait bounds one fetch; reading stops once the backlog counted at the start is read.
const fetchWait = 2 * time.Second

// read returns the window's events in stream order, without acknowledging anything, and when
// the newest stored event was stored (zero for an empty stream).
func read(ctx context.Context, js jetstream.JetStream, stream string, opts Options) ([]event, time.Time, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, time.Time{}, err
	}
	state := s.CachedInfo().State
	if state.Msgs == 0 {
		return nil, time.Time{}, nil
	}
	cfg := jetstream.OrderedConsumerConfig{InactiveThreshold: inactiveThreshold}
	if !opts.Since.IsZero() {
		since := opts.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	} else {
		start := state.FirstSeq
		if n := uint64(opts.Last); state.LastSeq >= n && state.LastSeq-n+1 > start {
			start = state.LastSeq - n + 1
		}
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, start
	}
	cons, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, state.LastTime, fmt.Errorf("ordered consumer on %s: %w", stream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, state.LastTime, fmt.Errorf("consumer info on %s: %w", stream, err)
	}
	backlog := int(info.NumPending)
	if opts.Since.IsZero() {
		backlog = min(backlog, opts.Last)
	}
	var out []event
	for len(out) < backlog {
		batch, err := cons.Fetch(min(backlog-len(out), 256), jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return out, state.LastTime, fmt.Errorf("fetch from %s: %w", stream, err)
		}
		n := 0
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil {
				continue
			}
			out = append(out, event{seq: meta.Sequence.Stream, subject: msg.Subject(), stored: meta.Timestamp, msg: msg})
			n++
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			return out, state.LastTime, ctx.Err()
		}
		if n == 0 && ctx.Err() != nil {
			return out, state.LastTime, ctx.Err()
		}
		if n == 0 {
			break // the window was trimmed (retention) while reading
		}
	}
	return out, state.LastTime, nil
}

// nestedUnknown looks for unknown fields in m's set message fields, "" when there are none.
func nestedUnknown(m proto.Message) string {
	var found string
	var walk func(protoreflect.Message, string)
	walk = func(pm protoreflect.Message, path string) {
		if found != "" {
			return
		}
		if len(pm.GetUnknown()) > 0 && path != "" {
			found = fmt.Sprintf("%d bytes of undeclared fields in %s", len(pm.GetUnknown()), path)
			return
		}
		pm.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			p := path + string(fd.Name())
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := v.List()
				for i := range l.Len() {
					walk(l.Get(i).Message(), p+".")
				}
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					walk(mv.Message(), p+".")
					return found == ""
				})
			case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
				walk(v.Message(), p+".")
			}
			return found == ""
		})
	}
	walk(m.ProtoReflect(), "")
	return found
}
