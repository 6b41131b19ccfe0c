package contracttest_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/dataproduct/rules"
	"meshwork.dev/platform/meshctl/contracttest"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

var readings = dataproduct.Product{
	Domain: "lab", Name: "readings", Major: 1, Owner: "lab-team", Contact: "lab@example.com",
	Message: &qualityv1.CleanReading{}, Classification: dataproduct.ClassInternal,
	Freshness: time.Minute, KeyDescription: "machine id",
	Rules: []rules.Rule{
		{ID: "value-in-range", Expr: "event.value >= -50.0 && event.value <= 150.0", Policy: rules.DeadLetter},
		{ID: "sensor-set", Expr: `event.sensor_id != ""`, Policy: rules.Count},
	},
}

type fixture struct {
	ctx  context.Context
	js   jetstream.JetStream
	desc *platformv1.DataProductDescriptor
	pub  *dataproduct.Publisher
}

func start(t *testing.T) *fixture {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	js := testinfra.StartNATS(t).JetStream(t)
	if _, err := dataproduct.Provision(ctx, js, readings); err != nil {
		t.Fatal(err)
	}
	pub, err := dataproduct.NewPublisher(js, readings)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	f := &fixture{ctx: ctx, js: js, desc: readings.Descriptor(), pub: pub}
	for i, m := range []string{"m1", "m2", "m3"} {
		r := &qualityv1.CleanReading{MachineId: m, SensorId: "s1", Value: float64(10 * i), SampledAt: timestamppb.Now()}
		if _, err := pub.Publish(ctx, m, r); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// lastStored is when the stream stored its newest event: the clock the tests judge
// freshness by, so no assertion depends on how long the test takes.
func (f *fixture) lastStored(t *testing.T) time.Time {
	t.Helper()
	s, err := f.js.Stream(f.ctx, f.desc.GetStream())
	if err != nil {
		t.Fatal(err)
	}
	return s.CachedInfo().State.LastTime
}

func (f *fixture) run(t *testing.T, now time.Time) contracttest.Report {
	t.Helper()
	rep, err := contracttest.Run(f.ctx, f.js, f.desc, contracttest.Options{MinEvents: 1, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func check(t *testing.T, rep contracttest.Report, name string) contracttest.Result {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %+v", name, rep)
	return contracttest.Result{}
}

func text(rep contracttest.Report) string {
	var b bytes.Buffer
	_ = rep.WriteText(&b)
	return b.String()
}

func TestHealthyProductPasses(t *testing.T) {
	t.Parallel()
	f := start(t)
	rep := f.run(t, f.lastStored(t).Add(time.Second))
	if !rep.Passed || rep.Events != 3 || len(rep.Checks) != 6 {
		t.Fatalf("healthy product:\n%s", text(rep))
	}
	// A count-policy violation is reported but passes.
	if _, err := f.pub.Publish(f.ctx, "m4", &qualityv1.CleanReading{MachineId: "m4", Value: 1}); err != nil {
		t.Fatal(err)
	}
	rep = f.run(t, f.lastStored(t))
	if r := check(t, rep, contracttest.CheckRules); !rep.Passed || len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], "sensor-set") {
		t.Fatalf("count violation should warn and pass:\n%s", text(rep))
	}
}

func TestWrongSchemaEventFails(t *testing.T) {
	t.Parallel()
	f := start(t)
	// An impostor sends another message's bytes under the product's headers and ce-type.
	m, err := dataproduct.NewMessage(f.ctx, readings, "m9", &qualityv1.CleanReading{MachineId: "m9", SensorId: "s"})
	if err != nil {
		t.Fatal(err)
	}
	m.Data, _ = proto.Marshal(&platformv1.ProductSummary{Name: "m9", Revision: 7, Tags: []string{"x"}})
	if _, err := f.js.PublishMsg(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	// And one with a rule-breaking value and a bad header.
	m, _ = dataproduct.NewMessage(f.ctx, readings, "m8", &qualityv1.CleanReading{MachineId: "m8", SensorId: "s", Value: 999})
	m.Header.Set(dataproduct.HeaderSource, "/domains/elsewhere")
	if _, err := f.js.PublishMsg(f.ctx, m); err != nil {
		t.Fatal(err)
	}
	rep := f.run(t, f.lastStored(t))
	out := text(rep)
	if rep.Passed {
		t.Fatalf("wrong-schema stream passed:\n%s", out)
	}
	for name, want := range map[string]string{
		contracttest.CheckSchema:      "#4: payload has fields the schema does not declare",
		contracttest.CheckCloudEvents: `#5: ce-source is "/domains/elsewhere", want "/domains/lab"`,
		contracttest.CheckRules:       "#5: rule value-in-range",
	} {
		c := check(t, rep, name)
		if c.Passed || c.Failed != 1 || !strings.Contains(strings.Join(c.Examples, "\n"), want) {
			t.Errorf("%s check: %+v, want one failure like %q", name, c, want)
		}
	}
	if !strings.HasPrefix(out, "FAIL lab.readings.v1: 5 events") || !strings.Contains(out, "FAIL schema") {
		t.Errorf("report:\n%s", out)
	}
	var junit bytes.Buffer
	if err := contracttest.WriteJUnit(&junit, []contracttest.Report{rep}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(junit.Bytes(), &doc); err != nil || doc.Tests != 6 || doc.Failures != 3 {
		t.Fatalf("junit %+v (%v):\n%s", doc, err, junit.String())
	}
}

func TestStaleProductFails(t *testing.T) {
	t.Parallel()
	f := start(t)
	rep := f.run(t, f.lastStored(t).Add(5*time.Minute))
	c := check(t, rep, contracttest.CheckFreshness)
	if rep.Passed || c.Passed || !strings.Contains(c.Examples[0], "newest event is 5m0s old, more than the objective 1m0s: the product is stale") {
		t.Fatalf("stale product:\n%s", text(rep))
	}
}

func TestMissingStreamFails(t *testing.T) {
	t.Parallel()
	f := start(t)
	d := f.desc
	d.Stream = "LAB_NOTHING_V1"
	rep, err := contracttest.Run(f.ctx, f.js, d, contracttest.Options{})
	if err != nil || rep.Passed || rep.Checks[0].Name != contracttest.CheckStream {
		t.Fatalf("missing stream: %v\n%s", err, text(rep))
	}
}

func TestEmptyStreamFailsVolumeOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	js := testinfra.StartNATS(t).JetStream(t)
	if _, err := dataproduct.Provision(ctx, js, readings); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		min  int
		pass bool
	}{{1, false}, {0, true}} {
		rep, err := contracttest.Run(ctx, js, readings.Descriptor(), contracttest.Options{MinEvents: tc.min})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Passed != tc.pass || !check(t, rep, contracttest.CheckFreshness).Passed || check(t, rep, contracttest.CheckVolume).Passed != tc.pass {
			t.Errorf("empty stream with MinEvents %d:\n%s", tc.min, text(rep))
		}
	}
}
