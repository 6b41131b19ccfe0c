package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/outbox"
)

const jobSelect = `SELECT j.id::text, j.kind, j.state, j.machine_id, j.sensor_id, j.health, j.priority, j.skill,
	j.duration_minutes, j.due_at, j.cause, j.reason, j.report_file_id, j.created_at,
	COALESCE(a.engineer_id, ''), a.starts_at, a.ends_at, COALESCE(a.travel_seconds, 0),
	COALESCE(m.lat, 0), COALESCE(m.lng, 0), m.id IS NOT NULL
	FROM jobs j LEFT JOIN assignments a ON a.job_id = j.id LEFT JOIN machines m ON m.id = j.machine_id`

func scanJob(row pgx.Row) (job.Record, error) {
	var r job.Record
	var minutes, travel int
	var starts, ends *time.Time
	err := row.Scan(&r.ID, &r.Kind, &r.State, &r.MachineID, &r.SensorID, &r.Health, &r.Priority, &r.Skill,
		&minutes, &r.Due, &r.Cause, &r.Reason, &r.ReportFileID, &r.Created,
		&r.EngineerID, &starts, &ends, &travel, &r.Location.Lat, &r.Location.Lng, &r.Located)
	r.Duration = time.Duration(minutes) * time.Minute
	r.Travel = time.Duration(travel) * time.Second
	if starts != nil {
		r.Starts, r.Ends = starts.UTC(), ends.UTC()
	}
	r.Due, r.Created = r.Due.UTC(), r.Created.UTC()
	return r, err
}

// Job returns a job, or a NotFound error.
func (s *Store) Job(ctx context.Context, id string) (job.Record, error) {
	const op = "postgres.Store.Job"
	if _, err := uuid.Parse(id); err != nil {
		return job.Record{}, errs.BadRequest(op, errs.Violation{Field: "id", Description: "must be a UUID"})
	}
	r, err := scanJob(s.pool.QueryRow(ctx, jobSelect+` WHERE j.id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, errs.E(op, errs.NotFound, "no job "+id)
	}
	return r, dbError(op, err)
}

func (s *Store) jobTx(ctx context.Context, tx pgx.Tx, op, id string) (job.Record, error) {
	if _, err := uuid.Parse(id); err != nil {
		return job.Record{}, errs.BadRequest(op, errs.Violation{Field: "id", Description: "must be a UUID"})
	}
	r, err := scanJob(tx.QueryRow(ctx, jobSelect+` WHERE j.id = $1 FOR UPDATE OF j`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, errs.E(op, errs.NotFound, "no job "+id)
	}
	return r, err
}

// insertJob stores a new open job and its event.
func (s *Store) insertJob(ctx context.Context, tx pgx.Tx, r *job.Record) error {
	r.ID, r.State = uuid.NewString(), job.Open
	now := s.now().UTC()
	if r.Created.IsZero() {
		r.Created = now
	}
	_, err := tx.Exec(ctx, `INSERT INTO jobs (id, kind, state, machine_id, sensor_id, health, priority, skill,
		duration_minutes, due_at, cause, reason, created_at, updated_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)`,
		r.ID, r.Kind, r.State, r.MachineID, r.SensorID, r.Health, r.Priority, r.Skill,
		int(r.Duration/time.Minute), r.Due, r.Cause, r.Reason, r.Created, now)
	if err != nil {
		return err
	}
	return s.emit(ctx, tx, *r, 0, r.Cause)
}

// emit writes the job's change to the outbox.
func (s *Store) emit(ctx context.Context, tx pgx.Tx, r job.Record, prev job.State, cause job.Cause) error {
	msg, err := dataproduct.NewMessage(ctx, stream.ServiceJobs, r.ID, stream.JobChanged(r, prev, cause, s.now()))
	if err != nil {
		return err
	}
	return outbox.Enqueue(ctx, tx, msg)
}

// decide records a decision with its cause.
// decide records a decision taken at at, reacting to what happened at observed (zero: by hand).
func decide(ctx context.Context, tx pgx.Tx, jobID, machine, sensor string, c job.Cause, action string, callouts int, hours float64, at, observed time.Time) error {
	var id, obs any
	if jobID != "" {
		id = jobID
	}
	if !observed.IsZero() {
		obs = observed
	}
	_, err := tx.Exec(ctx, `INSERT INTO decisions (job_id, machine_id, sensor_id, cause, action, callouts_avoided, hours_saved, decided_at, observed_at)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)`, id, machine, sensor, c, action, callouts, hours, at, obs)
	return err
}

// CreateJob stores a new open job (a dispatcher's manual job) with its decision and event.
func (s *Store) CreateJob(ctx context.Context, r job.Record) (job.Record, error) {
	err := s.inTx(ctx, "postgres.Store.CreateJob", func(tx pgx.Tx) error {
		if err := s.insertJob(ctx, tx, &r); err != nil {
			return err
		}
		return decide(ctx, tx, r.ID, r.MachineID, "", r.Cause, "open", 0, 0, s.now(), time.Time{})
	})
	return r, err
}

// Book assigns a job to an engineer for [start, end) with the travel time, replacing any
// earlier assignment. A slot overlapping another of the engineer's assignments is a Conflict
// (the exclusion constraint decides, so concurrent bookings cannot double-book); a job not
// open or assigned is a FailedPrecondition.
func (s *Store) Book(ctx context.Context, jobID, engineerID string, start, end time.Time, travel time.Duration) (job.Record, error) {
	const op = "postgres.Store.Book"
	var r job.Record
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		var err error
		if r, err = s.jobTx(ctx, tx, op, jobID); err != nil {
			return err
		}
		if r.State != job.Open && r.State != job.Assigned {
			return errs.E(op, errs.FailedPrecondition, "job is neither open nor assigned")
		}
		var active bool
		err = tx.QueryRow(ctx, `SELECT active FROM engineers WHERE id = $1`, engineerID).Scan(&active)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && !active) {
			return errs.E(op, errs.FailedPrecondition, "engineer "+engineerID+" is not in planning")
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO assignments (job_id, engineer_id, starts_at, ends_at, travel_seconds)
			VALUES ($1,$2,$3,$4,$5) ON CONFLICT (job_id) DO UPDATE SET engineer_id = EXCLUDED.engineer_id,
			starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, travel_seconds = EXCLUDED.travel_seconds`,
			jobID, engineerID, start, end, int(travel/time.Second)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1`, jobID, job.Assigned, s.now()); err != nil {
			return err
		}
		prev := r.State
		r.State, r.EngineerID, r.Starts, r.Ends, r.Travel = job.Assigned, engineerID, start.UTC(), end.UTC(), travel
		return s.emit(ctx, tx, r, prev, r.Cause)
	})
	return r, err
}

// BookFirstFree books the job on the first slot of slots that does not overlap the
// engineer's other assignments, trying the next slot on each Conflict. It returns a
// Conflict when none is free.
func (s *Store) BookFirstFree(ctx context.Context, jobID, engineerID string, slots []job.Window, travel time.Duration) (job.Record, error) {
	for _, w := range slots {
		r, err := s.Book(ctx, jobID, engineerID, w.Start, w.End, travel)
		if !errs.Is(err, errs.Conflict) {
			return r, err
		}
	}
	return job.Record{}, errs.E("postgres.Store.BookFirstFree", errs.Conflict, "no free slot for engineer "+engineerID)
}

// finish moves a job to a final state with its decision and event.
func (s *Store) finish(ctx context.Context, op, id string, to job.State, cause job.Cause, set func(*job.Record)) (job.Record, error) {
	var r job.Record
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		var err error
		if r, err = s.jobTx(ctx, tx, op, id); err != nil {
			return err
		}
		if r.State == job.Completed || r.State == job.Cancelled {
			return errs.E(op, errs.FailedPrecondition, "job is already completed or cancelled")
		}
		if to == job.Completed && r.State != job.Assigned {
			return errs.E(op, errs.FailedPrecondition, "only an assigned job can be completed")
		}
		if set != nil {
			set(&r)
		}
		if to == job.Cancelled {
			if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE job_id = $1`, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, report_file_id = $3, updated_at = $4 WHERE id = $1`,
			id, to, r.ReportFileID, s.now()); err != nil {
			return err
		}
		prev := r.State
		r.State = to
		if err := decide(ctx, tx, id, r.MachineID, r.SensorID, cause, strconv.Itoa(int(to)), 0, 0, s.now(), time.Time{}); err != nil {
			return err
		}
		return s.emit(ctx, tx, r, prev, cause)
	})
	return r, err
}

// CancelJob cancels an open or assigned job and frees its slot.
func (s *Store) CancelJob(ctx context.Context, id string, cause job.Cause) (job.Record, error) {
	return s.finish(ctx, "postgres.Store.CancelJob", id, job.Cancelled, cause, nil)
}

// CompleteJob completes an assigned job, attaching reportFileID (may be empty).
func (s *Store) CompleteJob(ctx context.Context, id, reportFileID string) (job.Record, error) {
	return s.finish(ctx, "postgres.Store.CompleteJob", id, job.Completed, job.ManualCause, func(r *job.Record) { r.ReportFileID = reportFileID })
}

// ListJobs returns up to limit jobs in state (0: any), newest first, after the page token,
// and the next token ("" at the end).
func (s *Store) ListJobs(ctx context.Context, state job.State, limit int, token string) ([]job.Record, string, error) {
	const op = "postgres.Store.ListJobs"
	offset := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 {
			return nil, "", errs.BadRequest(op, errs.Violation{Field: "page_token", Description: "is not a token from a previous response"})
		}
		offset = n
	}
	rows, err := s.pool.Query(ctx, jobSelect+` WHERE ($1 = 0 OR j.state = $1) ORDER BY j.created_at DESC, j.id LIMIT $2 OFFSET $3`,
		state, limit+1, offset)
	if err != nil {
		return nil, "", dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job.Record, error) { return scanJob(r) })
	if err != nil {
		return nil, "", dbError(op, err)
	}
	next := ""
	if len(out) > limit {
		out, next = out[:limit], strconv.Itoa(offset+limit)
	}
	return out, next, nil
}

// Schedule returns the engineer's assigned jobs starting in [from, to), in start order.
func (s *Store) Schedule(ctx context.Context, engineerID string, from, to time.Time) ([]job.Record, error) {
	rows, err := s.pool.Query(ctx, jobSelect+` WHERE a.engineer_id = $1 AND j.state = $4 AND a.starts_at >= $2 AND a.starts_at < $3
		ORDER BY a.starts_at`, engineerID, from, to, job.Assigned)
	if err != nil {
		return nil, dbError("postgres.Store.Schedule", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job.Record, error) { return scanJob(r) })
	return out, dbError("postgres.Store.Schedule", err)
}

// Savings sums, per cause, the call-outs avoided and hours saved by decisions in [from, to),
// and counts the failures declared faults among them: a declared fault (a decision that
// avoided a call-out) on a machine whose health, from clean data, became WARN or CRITICAL
// (a maintenance job opened or reprioritised for it) within job.FailureWindow before or after
// the fault started, both in quality's sample time. Those avoided nothing: they are counted in
// Failures, not in CalloutsAvoided or HoursSaved. Scheduling knows the machine, not which
// sensor failed, so any such declaration on the machine counts — an over-count, never a
// failure hidden. An ANOMALOUS_UNCONFIRMED inspection confirms nothing and changes nothing.
func (s *Store) Savings(ctx context.Context, from, to time.Time) ([]job.Savings, error) {
	const op = "postgres.Store.Savings"
	rows, err := s.pool.Query(ctx, `SELECT f.cause,
			COALESCE(sum(f.callouts_avoided) FILTER (WHERE NOT f.failed), 0)::bigint,
			COALESCE(sum(f.hours_saved) FILTER (WHERE NOT f.failed), 0),
			count(*) FILTER (WHERE f.failed)
		FROM (SELECT d.cause, d.callouts_avoided, d.hours_saved, EXISTS (
				SELECT 1 FROM decisions h
				WHERE h.machine_id = d.machine_id AND h.cause IN ($3, $4) AND h.action IN ('open', 'reprioritise')
				  AND COALESCE(h.observed_at, h.decided_at) BETWEEN COALESCE(d.observed_at, d.decided_at) - $5 * interval '1 second'
				                                               AND COALESCE(d.observed_at, d.decided_at) + $5 * interval '1 second') AS failed
			FROM decisions d WHERE d.decided_at >= $1 AND d.decided_at < $2 AND d.callouts_avoided > 0) f
		GROUP BY f.cause ORDER BY f.cause`, from, to, job.HealthWarn, job.HealthCritical, job.FailureWindow.Seconds())
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (job.Savings, error) {
		var v job.Savings
		return v, r.Scan(&v.Cause, &v.CalloutsAvoided, &v.HoursSaved, &v.Failures)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}
