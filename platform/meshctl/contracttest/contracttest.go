// Package contracttest checks that what is on a data product's live stream keeps the
// product's registered contract. It reads a window of the stream through an ephemeral ordered
// consumer (nothing is acknowledged, no durable is left behind, lineage does not see it) and
// runs five checks:
//
//   - schema: every payload decodes as the registered message (built with dynamicpb from the
//     catalog's FileDescriptorSet), with no fields the schema does not know, and ce-type and
//     ce-dataschema name the registered message and schema;
//   - cloudevents: the binary-mode headers the mesh agrees on are present and well formed
//     (ce-specversion 1.0, ce-id = Nats-Msg-Id, ce-source /domains/<domain>, ce-time RFC 3339,
//     ce-subject = the subject key, content-type application/protobuf);
//   - rules: the product's quality rules (reject and dead-letter rules fail the check; count
//     rules are reported but pass, as the SDK lets such events through);
//   - freshness: the newest event is no older than the freshness objective, and, for a time
//     window, no gap between events (or the window's ends) is longer than it;
//   - volume: the window holds at least MinEvents events.
//
// An empty stream is not stale (nothing was due yet, the catalog's EMPTY state); it fails the
// volume check unless MinEvents is 0.
package contracttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
)

// Check names.
const (
	CheckStream      = "stream"
	CheckSchema      = "schema"
	CheckCloudEvents = "cloudevents"
	CheckRules       = "rules"
	CheckFreshness   = "freshness"
	CheckVolume      = "volume"
)

// DefaultLast is how many of the newest events are read when no window is given.
const DefaultLast = 100

// maxExamples bounds the failures a check lists; Failed still counts them all.
const maxExamples = 5

// Options say which events to read.
type Options struct {
	// Since reads the events stored at or after this time; zero reads the Last newest.
	Since time.Time
	// Last is how many of the newest events to read without Since (0: DefaultLast).
	Last int
	// MinEvents is the volume the window must hold (0: no requirement).
	MinEvents int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Report is the outcome of one contract test.
type Report struct {
	Product string    `json:"product"`
	Stream  string    `json:"stream"`
	Window  string    `json:"window"`
	Events  int       `json:"events"`
	Passed  bool      `json:"passed"`
	Checks  []Result  `json:"checks"`
	At      time.Time `json:"at"`
}

// Result is one check's outcome.
type Result struct {
	Name   string `json:"name"`
	Passed bool   `json:"passed"`
	// Summary says what was found, on one line.
	Summary string `json:"summary"`
	// Failed counts the events (or conditions) that failed.
	Failed int `json:"failed"`
	// Examples are up to five failures, each naming the event's sequence.
	Examples []string `json:"examples,omitempty"`
	// Warnings are findings that do not fail the check (count-policy rules).
	Warnings []string `json:"warnings,omitempty"`
}

func (r *Result) fail(format string, args ...any) {
	r.Failed++
	if len(r.Examples) < maxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// event is one stream message as read.
type event struct {
	seq     uint64
	subject string
	stored  time.Time
	msg     jetstream.Msg
}

// Run tests desc's contract on its live stream. It returns an error only when the test cannot
// run at all (a schema or rules that do not load, JetStream unreachable); a missing stream is
// a failed report.
func Run(ctx context.Context, js jetstream.JetStream, desc *platformv1.DataProductDescriptor, opts Options) (Report, error) {
	const op = "contracttest.Run"
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if opts.Last <= 0 {
		opts.Last = DefaultLast
	}
	opts.MinEvents = max(opts.MinEvents, 0)
	rep := Report{Product: desc.GetName(), Stream: desc.GetStream(), At: now().UTC()}
	if opts.Since.IsZero() {
		rep.Window = fmt.Sprintf("last %d events", opts.Last)
	} else {
		rep.Window = "since " + opts.Since.UTC().Format(time.RFC3339)
	}
	payload, err := schema.Load(desc.GetSchema())
	if err != nil {
		return rep, fmt.Errorf("%s: %s: schema: %w", op, desc.GetName(), err)
	}
	set, err := rules.CompileSchema(desc.GetSchema().GetFileDescriptorSet(), desc.GetSchema().GetMessageName(), rules.FromProto(desc.GetRules()))
	if err != nil {
		return rep, fmt.Errorf("%s: %s: rules: %w", op, desc.GetName(), err)
	}
	events, lastStored, err := read(ctx, js, desc.GetStream(), opts)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		rep.Checks = []Result{{Name: CheckStream, Summary: "stream " + desc.GetStream() + " does not exist (has the producer started?)", Failed: 1}}
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("%s: %s: %w", op, desc.GetName(), err)
	}
	rep.Events = len(events)
	types := dynamicpb.NewTypes(payload.Files)
	mt := dynamicpb.NewMessageType(payload.Message)

	sch := Result{Name: CheckSchema}
	ce := Result{Name: CheckCloudEvents}
	rl := Result{Name: CheckRules}
	perRule := map[string]int{}
	prefix := "dp." + desc.GetName() + "."
	for _, ev := range events {
		h := ev.msg.Headers()
		key := strings.TrimPrefix(ev.subject, prefix)
		// schema
		m := mt.New().Interface()
		decoded := true
		switch typ := h.Get(dataproduct.HeaderType); {
		case typ != desc.GetSchema().GetMessageName():
			sch.fail("#%d: ce-type %q is not the registered %s", ev.seq, typ, desc.GetSchema().GetMessageName())
			decoded = false
		default:
			if err := (proto.UnmarshalOptions{Resolver: types}).Unmarshal(ev.msg.Data(), m); err != nil {
				sch.fail("#%d: payload does not decode as %s: %v", ev.seq, desc.GetSchema().GetMessageName(), err)
				decoded = false
			} else if unknown := unknownFields(m); unknown != "" {
				sch.fail("#%d: payload has fields the schema does not declare (%s)", ev.seq, unknown)
				decoded = false
			} else if ref := h.Get(dataproduct.HeaderDataSchema); ref != desc.GetSchema().GetSchemaRef() {
				sch.fail("#%d: ce-dataschema %q is not the registered %q", ev.seq, ref, desc.GetSchema().GetSchemaRef())
			}
		}
		// cloudevents
		for _, p := range headerProblems(h, desc.GetDomain(), key) {
			ce.fail("#%d: %s", ev.seq, p)
		}
		// rules
		if decoded && set.Len() > 0 {
			for _, v := range set.Check(m, key) {
				perRule[v.Rule.ID]++
				if v.Rule.Policy == rules.Count {
					if len(rl.Warnings) < maxExamples {
						rl.Warnings = append(rl.Warnings, fmt.Sprintf("#%d: %s (count policy)", ev.seq, v))
					}
					continue
				}
				rl.fail("#%d: %s (%s policy)", ev.seq, v, v.Rule.Policy)
			}
		}
	}
	sch.Passed = sch.Failed == 0
	sch.Summary = fmt.Sprintf("%d of %d events decode as %s", len(events)-sch.Failed, len(events), desc.GetSchema().GetMessageName())
	ce.Passed = ce.Failed == 0
	ce.Summary = fmt.Sprintf("%d header problems in %d events", ce.Failed, len(events))
	rl.Passed = rl.Failed == 0
	switch {
	case set.Len() == 0:
		rl.Summary = "no rules declared"
	default:
		var parts []string
		for _, r := range set.Rules() {
			parts = append(parts, fmt.Sprintf("%s %d", r.ID, perRule[r.ID]))
		}
		rl.Summary = fmt.Sprintf("%d rules, violations: %s", set.Len(), strings.Join(parts, ", "))
	}
	rep.Checks = []Result{{Name: CheckStream, Passed: true, Summary: "stream " + desc.GetStream() + " exists"}, sch, ce, rl,
		freshness(desc, events, lastStored, opts, now()), volume(events, opts)}
	rep.Passed = true
	for _, c := range rep.Checks {
		rep.Passed = rep.Passed && c.Passed
	}
	return rep, nil
}

// headerProblems lists what is wrong with an event's CloudEvents headers.
func headerProblems(h interface{ Get(string) string }, domain, key string) []string {
	var out []string
	want := func(name, got, want string) {
		if got != want {
			out = append(out, fmt.Sprintf("%s is %q, want %q", name, got, want))
		}
	}
	want(dataproduct.HeaderSpecVersion, h.Get(dataproduct.HeaderSpecVersion), dataproduct.SpecVersion)
	id := h.Get(dataproduct.HeaderID)
	if id == "" {
		out = append(out, dataproduct.HeaderID+" is missing")
	} else {
		want(dataproduct.HeaderMsgID, h.Get(dataproduct.HeaderMsgID), id)
	}
	want(dataproduct.HeaderSource, h.Get(dataproduct.HeaderSource), "/domains/"+domain)
	if t := h.Get(dataproduct.HeaderTime); t == "" {
		out = append(out, dataproduct.HeaderTime+" is missing")
	} else if _, err := time.Parse(time.RFC3339Nano, t); err != nil {
		out = append(out, fmt.Sprintf("%s %q is not an RFC 3339 time", dataproduct.HeaderTime, t))
	}
	want(dataproduct.HeaderSubject, h.Get(dataproduct.HeaderSubject), key)
	want(dataproduct.HeaderContentType, h.Get(dataproduct.HeaderContentType), dataproduct.ContentType)
	return out
}

// freshness judges the newest event's age and, for a time window, the gaps against the
// objective.
func freshness(desc *platformv1.DataProductDescriptor, events []event, lastStored time.Time, opts Options, now time.Time) Result {
	r := Result{Name: CheckFreshness, Passed: true}
	obj := desc.GetFreshnessObjective().AsDuration()
	if desc.GetFreshnessObjective() == nil || obj <= 0 {
		r.Summary = "no freshness objective declared"
		return r
	}
	if lastStored.IsZero() {
		// Like the catalog's EMPTY: not stale, since nothing was ever due; volume judges it.
		r.Summary = fmt.Sprintf("no events yet (objective %s)", obj)
		return r
	}
	age := now.Sub(lastStored).Round(time.Second)
	r.Summary = fmt.Sprintf("newest event %s old, objective %s", age, obj)
	if age > obj {
		r.fail("newest event is %s old, more than the objective %s: the product is stale", age, obj)
	}
	if !opts.Since.IsZero() {
		prev := opts.Since
		for _, ev := range events {
			if gap := ev.stored.Sub(prev); gap > obj {
				r.fail("#%d: %s without events before it, more than the objective %s", ev.seq, gap.Round(time.Second), obj)
			}
			prev = ev.stored
		}
	}
	r.Passed = r.Failed == 0
	return r
}

func volume(events []event, opts Options) Result {
	r := Result{Name: CheckVolume, Summary: fmt.Sprintf("%d events in the window, want at least %d", len(events), opts.MinEvents)}
	if len(events) < opts.MinEvents {
		r.fail("%d events, want at least %d", len(events), opts.MinEvents)
	}
	r.Passed = r.Failed == 0
	return r
}

// unknownFields names the unknown field numbers anywhere in m, "" when there are none.
func unknownFields(m proto.Message) string {
	raw := m.ProtoReflect().GetUnknown()
	if len(raw) == 0 {
		return nestedUnknown(m)
	}
	return fmt.Sprintf("%d bytes of undeclared fields", len(raw))
}
