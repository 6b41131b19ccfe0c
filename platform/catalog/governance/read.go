package governance

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/errs"
)

// AuditFilter selects audit entries; empty fields match all.
type AuditFilter struct {
	Principal, Product string
	// Action is an action, or a prefix ending in '.' ("access.").
	Action       string
	Since, Until time.Time
	// Limit bounds the entries returned (default 100, at most 1000).
	Limit int
}

// Matches reports whether e passes f.
func (f AuditFilter) Matches(e *platformv1.AuditEntry) bool {
	t := e.GetTime().AsTime()
	switch {
	case f.Principal != "" && e.GetPrincipal() != f.Principal,
		f.Product != "" && e.GetProduct() != f.Product,
		f.Action != "" && !(e.GetAction() == f.Action || strings.HasSuffix(f.Action, ".") && strings.HasPrefix(e.GetAction(), f.Action)),
		!f.Since.IsZero() && t.Before(f.Since),
		!f.Until.IsZero() && t.After(f.Until):
		return false
	}
	return true
}

// ReadAudit reads the audit stream from f.Since (the start when zero), oldest first, without
// consuming it (an ordered consumer), until f.Limit entries match, the stream's end, or
// f.Until.
func ReadAudit(ctx context.Context, js jetstream.JetStream, f AuditFilter) ([]*platformv1.AuditEntry, error) {
	const op = "governance.ReadAudit"
	if f.Limit <= 0 {
		f.Limit = 100
	}
	if f.Limit > 1000 {
		f.Limit = 1000
	}
	s, err := js.Stream(ctx, Audit.StreamName())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	last := info.State.LastSeq
	if last == 0 {
		return nil, nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if !f.Since.IsZero() {
		since := f.Since
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &since
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	var out []*platformv1.AuditEntry
	for len(out) < f.Limit {
		msgs, err := c.Fetch(256, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, errs.Wrap(op, err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				continue
			}
			e := &platformv1.AuditEntry{}
			if proto.Unmarshal(m.Data(), e) == nil && f.Matches(e) && len(out) < f.Limit {
				out = append(out, e)
			}
			if meta.Sequence.Stream >= last || (!f.Until.IsZero() && e.GetTime().AsTime().After(f.Until)) {
				return out, nil
			}
		}
		if err := msgs.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, errs.Wrap(op, err)
		}
		if n == 0 {
			return out, nil // nothing more arrived within the wait: the end (entries past last were filtered)
		}
	}
	return out, nil
}
