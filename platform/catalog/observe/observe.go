// Package observe reads what JetStream shows about a data product's stream: its state
// (messages, bytes, sequences, the newest message's time) and its durable consumers with their
// filters, lag and activity, and the rule violations recorded for it on RULEVIOLATIONS. The catalog judges freshness and draws lineage from it.
package observe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/dataproduct"
)

// DefaultTimeout bounds one observation, so a slow or absent JetStream cannot hold up the
// catalog's answers; an observation that runs out is reported unreadable.
const DefaultTimeout = 2 * time.Second

// Observer reads stream state through a JetStream context.
type Observer struct {
	js      jetstream.JetStream
	timeout time.Duration
}

var _ catalog.Observer = (*Observer)(nil)

// New returns an observer using js, each observation bounded by DefaultTimeout.
func New(js jetstream.JetStream) *Observer {
	return &Observer{js: js, timeout: DefaultTimeout}
}

// Observe implements catalog.Observer. A missing stream is readable and does not exist; a
// failure to reach JetStream makes the result unreadable; a failure while listing consumers
// keeps the stream state and sets Err.
func (o *Observer) Observe(ctx context.Context, stream, productID string) catalog.Observed {
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	obs := catalog.Observed{At: time.Now()}
	if stream == "" {
		obs.Readable = true
		return obs
	}
	s, err := o.js.Stream(ctx, stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		obs.Readable = true
		return obs
	case err != nil:
		obs.Err = err
		return obs
	}
	state := s.CachedInfo().State
	obs.At = time.Now() // after the read, so an event stored meanwhile is not younger than zero
	obs.Readable, obs.StreamExists = true, true
	obs.Messages, obs.Bytes = state.Msgs, state.Bytes
	obs.FirstSeq, obs.LastSeq = state.FirstSeq, state.LastSeq
	if state.Msgs > 0 {
		obs.LastTime = state.LastTime
	}
	lister := s.ListConsumers(ctx)
	for info := range lister.Info() {
		if info.Config.Durable == "" {
			continue // ephemeral: a tool or a test peeking, not a consuming domain
		}
		obs.Consumers = append(obs.Consumers, consumer(info, productID))
	}
	if err := lister.Err(); err != nil {
		obs.Err = err
	}
	slices.SortFunc(obs.Consumers, func(a, b catalog.Consumer) int { return strings.Compare(a.Name, b.Name) })
	counts, err := dataproduct.ViolationCounts(ctx, o.js, productID)
	if err != nil && obs.Err == nil {
		obs.Err = err
	}
	for _, c := range counts {
		obs.Violations = append(obs.Violations, catalog.Violations{Rule: c.Rule, Side: c.Side, Reporter: c.Reporter, Count: c.Count})
	}
	return obs
}

// consumer converts one consumer's info.
func consumer(info *jetstream.ConsumerInfo, productID string) catalog.Consumer {
	filters := info.Config.FilterSubjects
	if info.Config.FilterSubject != "" {
		filters = append([]string{info.Config.FilterSubject}, filters...)
	}
	c := catalog.Consumer{
		Name:           info.Name,
		Domain:         catalog.ConsumerDomain(info.Name, productID),
		FilterSubjects: filters,
		NumPending:     info.NumPending,
		NumAckPending:  uint64(max(info.NumAckPending, 0)),
		NumRedelivered: uint64(max(info.NumRedelivered, 0)),
	}
	for _, t := range []*time.Time{info.Delivered.Last, info.AckFloor.Last} {
		if t != nil && t.After(c.LastActive) {
			c.LastActive = *t
		}
	}
	return c
}
