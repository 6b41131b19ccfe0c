package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/fleet"
	"meshwork.dev/domains/logistics/postgres"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

func TestVehicles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testinfra.StartPostgres(t).Pool(t)
	s := postgres.New(pool)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	v := fleet.Vehicle{ID: "van-1", Type: fleet.Van, CapacityKg: 800, DepotLat: 52.3, DepotLng: 4.9, DriverUserID: "u-1"}
	got, err := s.CreateVehicle(ctx, v)
	if err != nil || got.ID != "van-1" || got.CreatedAt.IsZero() {
		t.Fatalf("create: %+v, %v", got, err)
	}
	if _, err := s.CreateVehicle(ctx, v); !errs.Is(err, errs.Conflict) {
		t.Errorf("duplicate: %v, want Conflict", err)
	}
	v.Type, v.CapacityKg = fleet.Truck, 3000
	if got, err := s.UpdateVehicle(ctx, v); err != nil || got.Type != fleet.Truck || got.CapacityKg != 3000 {
		t.Errorf("update: %+v, %v", got, err)
	}
	if _, err := s.CreateVehicle(ctx, fleet.Vehicle{ID: "van-2", Type: fleet.Van}); err != nil {
		t.Fatal(err)
	}
	page, err := s.ListVehicles(ctx, "van-1", 10)
	if err != nil || len(page) != 1 || page[0].ID != "van-2" {
		t.Errorf("list after van-1: %+v, %v", page, err)
	}
	if err := s.DeleteVehicle(ctx, "van-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Vehicle(ctx, "van-1"); !errs.Is(err, errs.NotFound) {
		t.Errorf("deleted: %v, want NotFound", err)
	}
	if err := s.DeleteVehicle(ctx, "van-1"); !errs.Is(err, errs.NotFound) {
		t.Errorf("delete twice: %v, want NotFound", err)
	}
}

func TestModelRoundTripWithOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testinfra.StartPostgres(t).Pool(t)
	s := postgres.New(pool)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m := route.NewModel(route.ModelConfig{})
	a := h3.LatLngToCell(h3.NewLatLng(52.37, 4.90), 9)
	b := a.GridDisk(1)[1]
	at := time.Date(2026, 1, 1, 8, 30, 0, 0, time.UTC)
	m.Observe(a, b, at, 42)
	m.Observe(b, a, at, 50)
	msgs, rows, err := stream.TravelTimesMessages(ctx, m, m.TakeDirty(), at)
	if err != nil || len(msgs) != 2 || len(rows) != 2 {
		t.Fatalf("messages %d rows %d err %v", len(msgs), len(rows), err)
	}
	if err := s.SaveModel(ctx, rows, msgs); err != nil {
		t.Fatal(err)
	}
	var queued int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+outbox.DefaultOutboxTable).Scan(&queued); err != nil || queued != 2 {
		t.Fatalf("outbox rows %d, %v", queued, err)
	}
	loaded := route.NewModel(route.ModelConfig{})
	if n, err := s.LoadModel(ctx, loaded); err != nil || n != 2 {
		t.Fatalf("loaded %d, %v", n, err)
	}
	got, ok := loaded.Stat(route.EdgeKey{From: a, To: b, Bucket: 8})
	if !ok || got.Seconds != 42 || got.Samples != 1 {
		t.Fatalf("loaded %+v (ok %v)", got, ok)
	}
}
