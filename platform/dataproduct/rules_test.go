package dataproduct_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/errs"
)

var readingRules = []rules.Rule{
	{ID: "value-in-range", Description: "value within -50..150", Expr: "event.value >= -50.0 && event.value <= 150.0", Policy: rules.Reject, Dimension: "accuracy"},
	{ID: "sensor-required", Description: "sensor id set", Expr: `event.sensor_id != ""`, Policy: rules.DeadLetter, Dimension: "completeness"},
	{ID: "key-is-machine", Description: "key is the machine id", Expr: "key == event.machine_id", Policy: rules.Count, Dimension: "consistency"},
}

// ruled is setup with a CleanReading product carrying readingRules.
func ruled(t *testing.T) *env {
	t.Helper()
	p := newProduct()
	p.Message = &qualityv1.CleanReading{}
	p.Rules = readingRules
	e := setup(t)
	e.p = p
	if _, err := dataproduct.Provision(e.ctx, e.js, p); err != nil {
		t.Fatalf("Provision: %v", err)
	}
	return e
}

func cleanReading(machine, sensor string, value float64) *qualityv1.CleanReading {
	return &qualityv1.CleanReading{MachineId: machine, SensorId: sensor, Value: value, SampledAt: timestamppb.Now()}
}

// counts is ViolationCounts of e.p as "rule/side/reporter=n" lines.
func (e *env) counts() string {
	e.t.Helper()
	cs, err := dataproduct.ViolationCounts(e.ctx, e.js, e.p.ID())
	if err != nil {
		e.t.Fatalf("ViolationCounts: %v", err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Rule+"/"+c.Side+"/"+c.Reporter+"="+strconv.FormatUint(c.Count, 10))
	}
	return strings.Join(out, " ")
}

func TestPublishRejectsRuleViolationWithRuleID(t *testing.T) {
	t.Parallel()
	e := ruled(t)
	pub := e.publisher()
	_, err := pub.Publish(e.ctx, "m1", cleanReading("m1", "s1", 400))
	if !errs.Is(err, errs.Invalid) {
		t.Fatalf("Publish of an out-of-range value: %v, want Invalid", err)
	}
	vs := errs.Violations(err)
	if len(vs) != 1 || vs[0].Field != "rules.value-in-range" || !strings.Contains(err.Error(), "value-in-range") {
		t.Fatalf("violations %+v (%v), want one on rules.value-in-range", vs, err)
	}
	if err := pub.PublishAsync(e.ctx, "m1", cleanReading("m1", "s1", -99)); !errs.Is(err, errs.Invalid) {
		t.Fatalf("PublishAsync: %v, want Invalid", err)
	}
	if _, err := dataproduct.NewMessage(e.ctx, e.p, "m1", cleanReading("m1", "s1", 400)); errs.Violations(err)[0].Field != "rules.value-in-range" {
		t.Fatalf("NewMessage (outbox): %v, want the rule's violation", err)
	}
	// Non-reject rules let the event through; every violation is counted.
	if _, err := pub.Publish(e.ctx, "m1", cleanReading("m2", "", 20)); err != nil {
		t.Fatalf("Publish with dead-letter and count violations: %v", err)
	}
	s, err := e.js.Stream(e.ctx, e.p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(e.ctx); info.State.Msgs != 1 {
		t.Fatalf("stream holds %d events, want 1 (the rejected ones are not published)", info.State.Msgs)
	}
	want := "key-is-machine/publish/test=1 sensor-required/publish/test=1 value-in-range/publish/test=2"
	if got := e.counts(); got != want {
		t.Fatalf("counts %q, want %q", got, want)
	}
}

func TestConsumeDeadLettersRuleViolations(t *testing.T) {
	t.Parallel()
	e := ruled(t)
	// A producer without the rules (an older release) publishes what the rules refuse.
	lax := e.p
	lax.Rules = nil
	pub, err := dataproduct.NewPublisher(e.js, lax)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	for _, r := range []*qualityv1.CleanReading{
		cleanReading("m1", "s1", 400), // reject rule: dead-lettered
		cleanReading("m1", "", 20),    // dead-letter rule
		cleanReading("m9", "s1", 20),  // count rule: delivered with the violation
		cleanReading("m1", "s1", 20),  // clean
	} {
		if _, err := pub.Publish(e.ctx, "m1", r); err != nil {
			t.Fatal(err)
		}
	}
	dead := e.deadLetters("sched")
	ch := make(chan *dataproduct.Event, 4)
	e.subscribe(dataproduct.ConsumerConfig{ConsumerDomain: "sched"}, sendTo(ch, nil))

	for _, want := range []string{"value-in-range", "sensor-required"} {
		m := dead()
		if got := m.Headers().Get(dataproduct.HeaderDLQRule); got != want {
			t.Fatalf("dead letter rule %q, want %q (reason %q)", got, want, m.Headers().Get(dataproduct.HeaderDLQReason))
		}
		if !strings.Contains(m.Headers().Get(dataproduct.HeaderDLQReason), "rule "+want) {
			t.Fatalf("reason %q does not name the rule", m.Headers().Get(dataproduct.HeaderDLQReason))
		}
	}
	counted := e.recv(ch)
	if counted.Message.(*qualityv1.CleanReading).GetMachineId() != "m9" || len(counted.Violations) != 1 || counted.Violations[0].Rule.ID != "key-is-machine" {
		t.Fatalf("first delivered event %v with violations %v, want m9 with key-is-machine", counted.Message, counted.Violations)
	}
	if clean := e.recv(ch); len(clean.Violations) != 0 {
		t.Fatalf("clean event has violations %v", clean.Violations)
	}
	want := "key-is-machine/consume/sched=1 sensor-required/consume/sched=1 value-in-range/consume/sched=1"
	if got := e.counts(); got != want {
		t.Fatalf("counts %q, want %q", got, want)
	}
}

func TestProductRulesValidated(t *testing.T) {
	t.Parallel()
	p := newProduct()
	p.Message = &qualityv1.CleanReading{}
	p.Rules = []rules.Rule{{ID: "bad", Expr: "event.celsius > 0.0", Policy: rules.Reject}}
	vs := errs.Violations(p.Validate())
	if len(vs) != 1 || vs[0].Field != "Rules[0].Expr" {
		t.Fatalf("Validate: %+v, want one on Rules[0].Expr", vs)
	}
	p.Rules = readingRules
	if d := p.Descriptor(); len(d.GetRules()) != 3 || d.GetRules()[0].GetExpression() != readingRules[0].Expr {
		t.Fatalf("descriptor rules %v", d.GetRules())
	}
}
