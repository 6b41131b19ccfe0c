package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"meshwork.dev/domains/scheduling/job"
)

// Placement is one planned visit to book: the slots to try in order and the travel time.
type Placement struct {
	// JobID is the job.
	JobID string
	// EngineerID is the engineer.
	EngineerID string
	// Slots are the slots to try, the planned one first.
	Slots []job.Window
	// Travel is the planned travel time.
	Travel time.Duration
}

// Movable returns the assigned jobs starting after cutoff: a replan may move them.
func (s *Store) Movable(ctx context.Context, cutoff time.Time) ([]job.Record, error) {
	rows, err := s.pool.Query(ctx, jobSelect+` WHERE j.state = $1 AND a.starts_at > $2 ORDER BY a.starts_at`, job.Assigned, cutoff)
	if err != nil {
		return nil, dbError("postgres.Store.Movable", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job.Record, error) { return scanJob(r) })
	return out, dbError("postgres.Store.Movable", err)
}

// ApplyPlan books a plan in one transaction: the movable jobs' current slots are released,
// then each placement takes its first slot free of overlaps (the exclusion constraint decides,
// each try in a savepoint); movable jobs the plan leaves out, or whose slots are all taken,
// go back to open. Only jobs whose engineer or slot changed get an event. It returns how many
// placements were booked.
func (s *Store) ApplyPlan(ctx context.Context, placements []Placement, movable []job.Record) (int, error) {
	const op = "postgres.Store.ApplyPlan"
	booked := 0
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		booked = 0
		before := make(map[string]job.Record, len(movable))
		ids := make([]string, 0, len(movable))
		for _, r := range movable {
			before[r.ID], ids = r, append(ids, r.ID)
		}
		// Lock and release the movable jobs still assigned.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM jobs WHERE id = ANY($1::uuid[]) FOR UPDATE`, ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE job_id = ANY($1::uuid[])`, ids); err != nil {
			return err
		}
		placed := map[string]bool{}
		for _, p := range placements {
			cur, err := s.jobTx(ctx, tx, op, p.JobID)
			if err != nil {
				return err
			}
			if cur.State != job.Open && !(cur.State == job.Assigned && before[p.JobID].ID != "") {
				continue // completed, cancelled or booked elsewhere meanwhile
			}
			w, ok, err := bookFirst(ctx, tx, p)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			placed[p.JobID] = true
			booked++
			prev := before[p.JobID]
			if prev.ID != "" && prev.EngineerID == p.EngineerID && prev.Starts.Equal(w.Start) {
				continue // unchanged: no event
			}
			if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1`, p.JobID, job.Assigned, s.now()); err != nil {
				return err
			}
			prevState := cur.State
			if prev.ID != "" {
				prevState = job.Assigned
			}
			cur.State, cur.EngineerID, cur.Starts, cur.Ends, cur.Travel = job.Assigned, p.EngineerID, w.Start.UTC(), w.End.UTC(), p.Travel
			if err := s.emit(ctx, tx, cur, prevState, cur.Cause); err != nil {
				return err
			}
		}
		for _, r := range movable {
			if placed[r.ID] {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1 AND state = $4`, r.ID, job.Open, s.now(), job.Assigned); err != nil {
				return err
			}
			r.State, r.EngineerID, r.Starts, r.Ends, r.Travel = job.Open, "", time.Time{}, time.Time{}, 0
			if err := s.emit(ctx, tx, r, job.Assigned, r.Cause); err != nil {
				return err
			}
		}
		return nil
	})
	return booked, err
}

// bookFirst inserts the first slot of p that does not overlap, each try in a savepoint.
func bookFirst(ctx context.Context, tx pgx.Tx, p Placement) (job.Window, bool, error) {
	for _, w := range p.Slots {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return w, false, err
		}
		_, err = sp.Exec(ctx, `INSERT INTO assignments (job_id, engineer_id, starts_at, ends_at, travel_seconds) VALUES ($1,$2,$3,$4,$5)`,
			p.JobID, p.EngineerID, w.Start, w.End, int(p.Travel/time.Second))
		var pg *pgconn.PgError
		switch {
		case err == nil:
			return w, true, sp.Commit(ctx)
		case errors.As(err, &pg) && pg.Code == exclusionViolation:
			if err := sp.Rollback(ctx); err != nil {
				return w, false, err
			}
		default:
			_ = sp.Rollback(ctx)
			return w, false, err
		}
	}
	return job.Window{}, false, nil
}
