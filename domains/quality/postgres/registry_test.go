package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/testinfra"
)

// TestMigrateKeepsOlderMachines migrates a database that holds a machine registered before
// locations existed (the first migration's table), twice: the machine reads back without a
// location, a new one keeps its location, and the database itself refuses an impossible one.
func TestMigrateKeepsOlderMachines(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := testinfra.StartPostgres(t).Pool(t)
	if _, err := pool.Exec(ctx, `CREATE TABLE quality_machines (machine_id text PRIMARY KEY, site text NOT NULL,
model text NOT NULL, criticality int NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
INSERT INTO quality_machines VALUES ('old', 'plant-1', 'p', 2)`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := postgres.New(pool).Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	}
	reg := postgres.NewRegistry(pool)
	old, err := reg.GetMachine(ctx, "old")
	if err != nil || old.Location != nil {
		t.Fatalf("old machine %+v, %v: want no location", old, err)
	}
	at := &postgres.Location{Lat: 52.37, Lng: 4.9}
	if _, err := reg.CreateMachine(ctx, postgres.Machine{ID: "new", Site: "s", Criticality: 1, Location: at}); err != nil {
		t.Fatal(err)
	}
	got, err := reg.GetMachine(ctx, "new")
	if err != nil || got.Location == nil || *got.Location != *at {
		t.Fatalf("new machine %+v, %v: want at %v", got, err, at)
	}
	_, err = reg.CreateMachine(ctx, postgres.Machine{ID: "off", Site: "s", Criticality: 1, Location: &postgres.Location{Lat: 95, Lng: 0}})
	if err == nil || errs.KindOf(err) == errs.Conflict {
		t.Fatalf("lat 95 stored or misreported: %v", err)
	}
}

// TestReplicaKnowsSensorsAnotherRegistered: two replicas share the database; a sensor
// registered through one is known to the other at its first reading, not after a restart,
// and a sensor registered nowhere stays unknown.
func TestReplicaKnowsSensorsAnotherRegistered(t *testing.T) {
	t.Parallel()
	ctx, a, b := twoReplicas(t)
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	want := readings.Spec{ID: "t1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
	if err := a.CreateSensor(ctx, want, "celsius"); err != nil {
		t.Fatal(err)
	}
	if got, ok := b.Spec("m1", "t1"); !ok || got != want {
		t.Errorf("replica b: %+v, %v; want %+v", got, ok, want)
	}
	if b.Known("m2", "t1") || b.Known("m1", "nope") {
		t.Error("a sensor on another machine, or registered nowhere, is known")
	}
}

// TestReplicaForgetsSensorsAnotherDeleted: two replicas share the database; a sensor deleted
// through one stays in the other's snapshot only until that replica reloads it (the service
// reloads periodically), after which its readings are refused there too.
func TestReplicaForgetsSensorsAnotherDeleted(t *testing.T) {
	t.Parallel()
	ctx, a, b := twoReplicas(t)
	for _, id := range []string{"t1", "t2"} {
		s := readings.Spec{ID: id, Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
		if err := a.CreateSensor(ctx, s, "celsius"); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.Known("m1", "t1") || !b.Known("m1", "t2") {
		t.Fatal("replica b does not know the sensors a registered")
	}
	if err := a.DeleteSensor(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if a.Known("m1", "t1") {
		t.Error("replica a still knows the sensor it deleted")
	}
	if err := b.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if b.Known("m1", "t1") {
		t.Error("replica b still knows t1 after reloading: deleted through a")
	}
	if !b.Known("m1", "t2") {
		t.Error("replica b forgot t2, which nobody deleted")
	}
}

// TestSensorConflictNamesItsMachine: sensor ids are unique across machines; registering an
// id that another machine holds is a Conflict naming the machine that holds it (it named the
// machine asked for), and the same id twice on one machine names that machine.
func TestSensorConflictNamesItsMachine(t *testing.T) {
	t.Parallel()
	ctx, a, _ := twoReplicas(t)
	if _, err := a.CreateMachine(ctx, postgres.Machine{ID: "m2", Site: "s", Criticality: 1}); err != nil {
		t.Fatal(err)
	}
	s := readings.Spec{ID: "t1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
	if err := a.CreateSensor(ctx, s, "celsius"); err != nil {
		t.Fatal(err)
	}
	for machine, want := range map[string]string{
		"m2": "sensor t1 already exists on machine m1 (sensor ids are unique across machines)",
		"m1": "sensor t1 of machine m1 already exists",
	} {
		s.Machine = machine
		err := a.CreateSensor(ctx, s, "celsius")
		if errs.KindOf(err) != errs.Conflict || !strings.Contains(err.Error(), want) {
			t.Errorf("t1 again on %s: %v, want Conflict %q", machine, err, want)
		}
	}
}

// twoReplicas returns the registries of two replicas sharing one migrated database, holding
// machine m1.
func twoReplicas(t *testing.T) (context.Context, *postgres.Registry, *postgres.Registry) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	pool := testinfra.StartPostgres(t).Pool(t)
	if err := postgres.New(pool).Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a, b := postgres.NewRegistry(pool), postgres.NewRegistry(pool)
	if _, err := a.CreateMachine(ctx, postgres.Machine{ID: "m1", Site: "s", Criticality: 1}); err != nil {
		t.Fatal(err)
	}
	return ctx, a, b
}
