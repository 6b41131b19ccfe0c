package outbox_test

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"

	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

func TestMigrateIsIdempotentAndNamesAreConfigurable(t *testing.T) {
	t.Parallel()
	pool := testinfra.StartPostgres(t).Pool(t)
	ctx := t.Context()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA billing`); err != nil {
		t.Fatal(err)
	}
	tables := outbox.Tables{Outbox: "billing.events_out", Inbox: "billing.events_in"}
	for range 2 {
		if err := outbox.Migrate(ctx, pool); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		if err := tables.Migrate(ctx, pool); err != nil {
			t.Fatalf("Tables.Migrate: %v", err)
		}
	}
	rows, _ := pool.Query(ctx, `SELECT table_schema || '.' || table_name FROM information_schema.tables
		WHERE table_schema IN ('public', 'billing') ORDER BY 1`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"billing.events_in", "billing.events_out", "public.inbox_events", "public.outbox_events"}
	if !slices.Equal(got, want) {
		t.Fatalf("tables %q, want %q", got, want)
	}

	// The configured tables work end to end for Enqueue and Processed, inside a pgx.Conn's tx.
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	err = pgx.BeginFunc(ctx, conn.Conn(), func(tx pgx.Tx) error {
		if err := tables.Enqueue(ctx, tx, event("b-1", "dp.test.bills.v1.b1", []byte("x"))); err != nil {
			return err
		}
		_, err := tables.Processed(ctx, tx, "c", "b-1")
		return err
	})
	if err != nil {
		t.Fatalf("use configured tables: %v", err)
	}
	if b, err := tables.Backlog(ctx, pool); err != nil || b.Pending != 1 {
		t.Fatalf("backlog %+v, %v; want 1 pending", b, err)
	}
	if b, err := (outbox.Tables{}).Backlog(ctx, pool); err != nil || b.Pending != 0 {
		t.Fatalf("default backlog %+v, %v; want 0 pending", b, err)
	}
}

func TestEnqueueRefusesBadMessages(t *testing.T) {
	t.Parallel()
	pool := testinfra.StartPostgres(t).Pool(t)
	if err := outbox.Migrate(t.Context(), pool); err != nil {
		t.Fatal(err)
	}
	noID := event("x", "dp.test.things.v1.k", nil)
	noID.Header.Del(nats.MsgIdHdr)
	tests := []struct {
		name string
		msg  *nats.Msg
		kind errs.Kind
	}{
		{"no Nats-Msg-Id", noID, errs.Invalid},
		{"no headers", &nats.Msg{Subject: "dp.test.things.v1.k"}, errs.Invalid},
		{"nil message", nil, errs.Invalid},
		{"wildcard subject", event("w", "dp.test.*.v1.k", nil), errs.Invalid},
		{"empty subject", event("e", "", nil), errs.Invalid},
		{"empty token", event("t", "dp..v1", nil), errs.Invalid},
		{"duplicate id", event("dup", "dp.test.things.v1.k", nil), errs.Conflict},
	}
	enqueue(t, pool, event("dup", "dp.test.things.v1.k", nil))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tx, err := pool.Begin(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(t.Context()) }()
			if err := outbox.Enqueue(t.Context(), tx, tt.msg); !errs.Is(err, tt.kind) {
				t.Fatalf("Enqueue = %v, want kind %v", err, tt.kind)
			}
		})
	}
}

func TestInbox(t *testing.T) {
	t.Parallel()
	pool := testinfra.StartPostgres(t).Pool(t)
	ctx := t.Context()
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	processed := func(consumer, id string, commit bool) bool {
		t.Helper()
		tx, err := pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		first, err := outbox.Processed(ctx, tx, consumer, id)
		if err != nil {
			t.Fatalf("Processed(%s, %s): %v", consumer, id, err)
		}
		if commit {
			err = tx.Commit(ctx)
		} else {
			err = tx.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	steps := []struct {
		consumer, id string
		commit       bool
		first        bool
	}{
		{"sched", "e1", true, true},
		{"sched", "e1", true, false},  // a redelivery
		{"billing", "e1", true, true}, // another consumer
		{"sched", "e2", false, true},  // handled, then rolled back
		{"sched", "e2", true, true},   // so the redelivery is first
		{"sched", "e2", true, false},
	}
	for i, s := range steps {
		if got := processed(s.consumer, s.id, s.commit); got != s.first {
			t.Errorf("step %d: Processed(%s, %s) first = %v, want %v", i, s.consumer, s.id, got, s.first)
		}
	}

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Processed(ctx, tx, "", "e1"); !errs.Is(err, errs.Invalid) {
		t.Errorf("Processed without consumer = %v, want Invalid", err)
	}
	_ = tx.Rollback(ctx)

	if _, err := pool.Exec(ctx, `UPDATE inbox_events SET processed_at = now() - interval '2 hours' WHERE event_id = 'e1'`); err != nil {
		t.Fatal(err)
	}
	n, err := outbox.Prune(ctx, pool, time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("Prune = %d, %v; want the 2 old records", n, err)
	}
	if !processed("sched", "e1", true) || processed("sched", "e2", true) {
		t.Errorf("after Prune: e1 should be new again and e2 still known")
	}
}

func TestPrunePublishedKeepsUnpublished(t *testing.T) {
	t.Parallel()
	pool := testinfra.StartPostgres(t).Pool(t)
	ctx := t.Context()
	if err := outbox.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	enqueue(t, pool, event("old-done", "dp.test.a.v1.k", nil), event("old-pending", "dp.test.a.v1.k", nil),
		event("new-done", "dp.test.a.v1.k", nil))
	_, err := pool.Exec(ctx, `UPDATE outbox_events SET created_at = now() - interval '1 day',
		published_at = CASE event_id WHEN 'old-done' THEN now() - interval '1 day' WHEN 'new-done' THEN now() END`)
	if err != nil {
		t.Fatal(err)
	}
	n, err := outbox.Tables{}.PrunePublished(ctx, pool, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("PrunePublished = %d, %v; want 1", n, err)
	}
	b, err := outbox.Tables{}.Backlog(ctx, pool)
	if err != nil || b.Pending != 1 || b.OldestAge < 23*time.Hour {
		t.Fatalf("backlog %+v, %v; want the old pending event kept", b, err)
	}
}
