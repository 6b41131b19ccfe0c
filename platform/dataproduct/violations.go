package dataproduct

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct/rules"
)

// The shared rule-violation stream: one message per event failing a rule, per side and
// reporting domain, kept 30 days. Its subjects are
// violations.<reporter-domain>.<product id>.<rule id>.<side>, so the per-subject counts of
// StreamInfo are the violation counts the catalog shows (ViolationCounts). A record carries
// the event id, key and reason, never the payload.
const (
	ViolationStream    = "RULEVIOLATIONS"
	ViolationPrefix    = "violations."
	ViolationRetention = 30 * 24 * time.Hour
)

// Sides of a violation.
const (
	SidePublish = "publish"
	SideConsume = "consume"
)

// Headers of a violation record.
const (
	HeaderViolationEvent  = "violation-event-id"
	HeaderViolationKey    = "violation-key"
	HeaderViolationReason = "violation-reason"
	HeaderViolationPolicy = "violation-policy"
)

// HeaderDLQRule names, on a dead-lettered copy, the rules (comma-separated ids) the event failed.
const HeaderDLQRule = "dlq-rule"

// recordTimeout bounds one violation record; it does not follow the caller's context so a
// rejection during shutdown is still counted.
const recordTimeout = 5 * time.Second

// ViolationSubject is where reporter records a violation of productID's rule on side.
func ViolationSubject(reporter, productID, ruleID, side string) string {
	return ViolationPrefix + reporter + "." + productID + "." + ruleID + "." + side
}

// recordViolations stores one record per violation of event id on the violation stream. The
// record's Nats-Msg-Id is <reporter>:<side>:<rule>:<event id>, so a redelivered or
// republished event is counted once. A record that cannot be stored is logged, not
// returned: counting never blocks the data.
func recordViolations(ctx context.Context, js jetstream.JetStream, log *slog.Logger, reporter, productID, side, id, key string, vs []rules.Violation) {
	if len(vs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	for _, v := range vs {
		h := nats.Header{}
		h.Set(HeaderMsgID, reporter+":"+side+":"+v.Rule.ID+":"+id)
		h.Set(HeaderViolationEvent, id)
		h.Set(HeaderViolationKey, key)
		h.Set(HeaderViolationReason, v.Reason)
		h.Set(HeaderViolationPolicy, v.Rule.Policy.String())
		m := &nats.Msg{Subject: ViolationSubject(reporter, productID, v.Rule.ID, side), Header: h}
		if _, err := js.PublishMsg(ctx, m); err != nil {
			log.Warn("dataproduct: rule violation not recorded", "product", productID, "rule", v.Rule.ID, "side", side, "event", id, "error", err)
		}
	}
}

// ensureViolations creates the RULEVIOLATIONS stream if it is missing; like DEADLETTER it is
// shared and never updated here (ensureShared).
func ensureViolations(ctx context.Context, js jetstream.JetStream, replicas int) error {
	return ensureShared(ctx, "dataproduct.ensureViolations", js, jetstream.StreamConfig{
		Name:        ViolationStream,
		Description: "Data-quality rule violations: violations.<reporter-domain>.<product id>.<rule id>.<publish|consume>",
		Subjects:    []string{ViolationPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      ViolationRetention,
		Duplicates:  DefaultDuplicateWindow,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
	})
}

// ViolationCount is the number of recorded violations of one rule, from one side, by one
// reporting domain.
type ViolationCount struct {
	Reporter, Rule, Side string
	Count                uint64
}

// ViolationCounts reads the recorded violations of productID from the RULEVIOLATIONS stream,
// in subject order. A missing stream means none.
func ViolationCounts(ctx context.Context, js jetstream.JetStream, productID string) ([]ViolationCount, error) {
	const op = "dataproduct.ViolationCounts"
	s, err := js.Stream(ctx, ViolationStream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, NATSError(op, "stream "+ViolationStream, err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter(ViolationPrefix+"*."+productID+".*.*"))
	if err != nil {
		return nil, NATSError(op, "stream info "+ViolationStream, err)
	}
	prefixLen := len(ViolationPrefix)
	var out []ViolationCount
	for subject, n := range info.State.Subjects {
		// violations.<reporter>.<product id: 3 tokens>.<rule>.<side>
		rest := subject[prefixLen:]
		reporter, tail, ok := strings.Cut(rest, ".")
		if !ok || len(tail) <= len(productID)+1 || tail[:len(productID)] != productID {
			continue
		}
		rule, side, ok := strings.Cut(tail[len(productID)+1:], ".")
		if !ok {
			continue
		}
		out = append(out, ViolationCount{Reporter: reporter, Rule: rule, Side: side, Count: n})
	}
	slices.SortFunc(out, compareCounts) // by rule, publish before consume, reporter
	return out, nil
}

func compareCounts(a, b ViolationCount) int {
	return cmp.Or(strings.Compare(a.Rule, b.Rule), -strings.Compare(a.Side, b.Side), strings.Compare(a.Reporter, b.Reporter))
}
