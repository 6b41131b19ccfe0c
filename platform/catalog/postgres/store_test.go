package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/changes"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// env is one test's database, store and catalog (without an observer: these tests never
// read streams).
type env struct {
	ctx   context.Context
	pool  *pgxpool.Pool
	store *postgres.Store
	cat   *catalog.Catalog
}

func newEnv(t *testing.T) env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	pool := testinfra.StartPostgres(t).Pool(t)
	store := postgres.New(pool, changes.Message)
	if err := store.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return env{ctx: ctx, pool: pool, store: store, cat: catalog.New(store, nil)}
}

func (e env) register(t *testing.T, d *platformv1.DataProductDescriptor) catalog.Change {
	t.Helper()
	ch, err := e.cat.Register(e.ctx, d)
	if err != nil {
		t.Fatalf("Register %s: %v", d.GetName(), err)
	}
	return ch
}

// outboxEvents returns the ProductChanged events in the outbox, oldest first.
func (e env) outboxEvents(t *testing.T) []*platformv1.ProductChanged {
	t.Helper()
	rows, err := e.pool.Query(e.ctx, `SELECT subject, payload FROM outbox_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []*platformv1.ProductChanged
	for rows.Next() {
		var subject string
		var payload []byte
		if err := rows.Scan(&subject, &payload); err != nil {
			t.Fatal(err)
		}
		ev := &platformv1.ProductChanged{}
		if err := proto.Unmarshal(payload, ev); err != nil {
			t.Fatal(err)
		}
		if want := "dp.catalog.product-changes.v1." + ev.GetDomain(); subject != want {
			t.Errorf("event subject %s, want %s", subject, want)
		}
		out = append(out, ev)
	}
	return out
}

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.store.Migrate(e.ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migration files %v (%v)", files, err)
	}
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM catalog_schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Errorf("applied migrations = %d (%v), want %d, one per file", n, err, len(files))
	}
}

func TestRegisterKeepsRevisionsAndEnqueuesEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...)
	if ch := e.register(t, v1); ch.Kind != catalog.Registered || ch.Entry.Revision != 1 {
		t.Fatalf("first registration: %v revision %d", ch.Kind, ch.Entry.Revision)
	}
	if ch := e.register(t, v1); ch.Kind != catalog.Unchanged || ch.Entry.Revision != 1 {
		t.Fatalf("same again: %v revision %d", ch.Kind, ch.Entry.Revision)
	}
	v2 := catalogtest.Descriptor("lab.readings.v1", append(slices.Clone(catalogtest.BaseFields), catalogtest.Field{Name: "note", Number: 4, Type: catalogtest.String})...)
	v2.Owner = "bench-team"
	if ch := e.register(t, v2); ch.Kind != catalog.Updated || ch.Entry.Revision != 2 {
		t.Fatalf("compatible change: %v revision %d", ch.Kind, ch.Entry.Revision)
	}
	broken := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields[0])
	var bc *catalog.BreakingChanges
	if _, err := e.cat.Register(e.ctx, broken); !errs.Is(err, errs.FailedPrecondition) || !errors.As(err, &bc) || len(bc.Changes) != 3 {
		t.Fatalf("breaking change: %v, want failed precondition listing 3 removed fields", err)
	}

	got, err := e.store.Product(e.ctx, "lab.readings.v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 2 || got.Descriptor.GetOwner() != "bench-team" || !got.UpdatedAt.After(got.RegisteredAt) {
		t.Errorf("stored entry: revision %d owner %s registered %v updated %v", got.Revision, got.Descriptor.GetOwner(), got.RegisteredAt, got.UpdatedAt)
	}
	revs, err := e.store.Revisions(e.ctx, "lab.readings.v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 2 || revs[0].Revision != 1 || revs[1].Revision != 2 || revs[0].Descriptor.GetOwner() != "lab-team" {
		t.Errorf("revisions = %d, want revision 1 by lab-team and revision 2", len(revs))
	}
	if !proto.Equal(revs[1].Descriptor, got.Descriptor) || revs[1].Fingerprint != got.Fingerprint {
		t.Error("the newest revision differs from the current entry")
	}

	evs := e.outboxEvents(t)
	if len(evs) != 2 || evs[0].GetKind() != platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_REGISTERED ||
		evs[1].GetKind() != platformv1.ProductChangeKind_PRODUCT_CHANGE_KIND_UPDATED || evs[1].GetRevision() != 2 || evs[1].GetOwner() != "bench-team" {
		t.Errorf("outbox events = %v, want registered then updated to revision 2", evs)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := e.store.Product(e.ctx, "no.such.v1"); !errs.Is(err, errs.NotFound) {
		t.Errorf("Product = %v, want not found", err)
	}
	if _, err := e.store.Revisions(e.ctx, "no.such.v1"); !errs.Is(err, errs.NotFound) {
		t.Errorf("Revisions = %v, want not found", err)
	}
}

func TestConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const n = 8
	var wg sync.WaitGroup
	results := make([]catalog.Change, n)
	failures := make([]error, n)
	// The same new descriptor from n replicas at once: one registers, the others see it.
	same := catalogtest.Descriptor("lab.same.v1", catalogtest.BaseFields...)
	for i := range n {
		wg.Go(func() { results[i], failures[i] = e.cat.Register(e.ctx, same) })
	}
	wg.Wait()
	registered := 0
	for i := range n {
		if failures[i] != nil {
			t.Fatalf("registration %d: %v", i, failures[i])
		}
		if results[i].Kind == catalog.Registered {
			registered++
		}
		if results[i].Entry.Revision != 1 {
			t.Errorf("registration %d: revision %d, want 1", i, results[i].Entry.Revision)
		}
	}
	if registered != 1 {
		t.Errorf("%d registrations created the product, want exactly 1", registered)
	}
	// n different compatible changes at once: each becomes its own revision.
	for i := range n {
		d := catalogtest.Descriptor("lab.same.v1", catalogtest.BaseFields...)
		d.Owner = fmt.Sprintf("team-%d", i)
		wg.Go(func() { results[i], failures[i] = e.cat.Register(e.ctx, d) })
	}
	wg.Wait()
	var revisions []int64
	for i := range n {
		if failures[i] != nil {
			t.Fatalf("change %d: %v", i, failures[i])
		}
		revisions = append(revisions, results[i].Entry.Revision)
	}
	slices.Sort(revisions)
	for i, r := range revisions {
		if r != int64(i+2) {
			t.Fatalf("revisions = %v, want 2..%d once each", revisions, n+1)
		}
	}
	if evs := e.outboxEvents(t); len(evs) != n+1 {
		t.Errorf("%d events in the outbox, want %d", len(evs), n+1)
	}
}
