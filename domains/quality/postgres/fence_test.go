package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/platform/testinfra"
)

// TestStaleStateCannotOverwrite: two writers of one machine (a replica whose partition was
// taken over while it still held the machine cached, and the new owner). The new owner's
// batch commits; the stale writer's next batch runs its steps on the committed state, not on
// its cache (so it derives and publishes nothing from the stale one), and the saved state then
// holds every reading in order.
func TestStaleStateCannotOverwrite(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := testinfra.StartPostgres(t).Pool(t)
	old, owner := postgres.New(pool), postgres.New(pool)
	if err := old.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	sp := readings.Spec{ID: "t1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}
	reg := registry{"m1/t1": sp}
	offline := readings.NewMachine("m1", readings.DefaultHealth)
	offline.AddSensor(sp, readings.DefaultConfig(readings.Temperature))
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	item := func(st *postgres.State, i int) []postgres.Item {
		at, v := t0.Add(time.Duration(i)*time.Minute), 40+float64(i%3)/10
		r := &qualityv1.RawReading{MachineId: "m1", SensorId: "t1", SampledAt: timestamppb.New(at), Value: v}
		id := fmt.Sprintf("r%d", i)
		return []postgres.Item{{Machine: "m1", EventID: id, Step: pipeline.NewProcessor(reg, st).Step(ctx, id, r)}}
	}
	for i := range 3 {
		if _, err := offline.Process(readings.Reading{Sensor: "t1", Time: t0.Add(time.Duration(i) * time.Minute).UnixNano(), Value: 40 + float64(i%3)/10}); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.ApplyBatch(ctx, item(old, 0)); err != nil {
		t.Fatal(err)
	}
	if err := owner.ApplyBatch(ctx, item(owner, 1)); err != nil {
		t.Fatal(err)
	}
	// The stale writer sees at the start of its batch that the row moved on, before any step
	// runs: it applies the reading to the saved state rather than to its cached one.
	var seen []byte
	stale := item(old, 2)
	step := stale[0].Step
	stale[0].Step = func(m *readings.Machine) ([]*nats.Msg, error) {
		seen, _ = json.Marshal(m)
		return step(m)
	}
	committed, err := old.Snapshot(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(committed)
	if err := old.ApplyBatch(ctx, stale); err != nil {
		t.Fatalf("batch of the stale writer: %v", err)
	}
	if string(seen) != string(want) {
		t.Fatalf("the stale writer's step ran on its cached state, not the committed one:\n%s\n%s", seen, want)
	}
	if n, err := old.Applied(ctx, "m1"); err != nil || n != 3 {
		t.Fatalf("applied %d readings (%v), want 3", n, err)
	}
	saved, err := old.Snapshot(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(saved)
	b, _ := json.Marshal(offline)
	if string(a) != string(b) {
		t.Fatalf("saved state is not the three readings' in order:\n%s\n%s", a, b)
	}
}
