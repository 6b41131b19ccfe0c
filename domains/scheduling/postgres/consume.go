package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/platform/outbox"
)

// UserChange is what scheduling takes from identity.users.v1.
type UserChange struct {
	// ID is the user id.
	ID string
	// DisplayName is the display name.
	DisplayName string
	// Engineer is whether the user has the engineer role and is an active person.
	Engineer bool
}

// once runs f in a transaction unless consumer already processed eventID; it reports whether f ran.
func (s *Store) once(ctx context.Context, op, consumer, eventID string, f func(tx pgx.Tx) error) (bool, error) {
	ran := false
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		first, err := outbox.Processed(ctx, tx, consumer, eventID)
		if err != nil || !first {
			return err
		}
		ran = true
		return f(tx)
	})
	return ran && err == nil, err
}

// ApplyUser applies a user change once per event: an active engineer gets (or keeps) an
// engineer record; anyone else is taken out of planning and their open assignments are freed.
func (s *Store) ApplyUser(ctx context.Context, consumer, eventID string, u UserChange) (bool, error) {
	return s.once(ctx, "postgres.Store.ApplyUser", consumer, eventID, func(tx pgx.Tx) error {
		if u.Engineer {
			d := s.newEngineer
			shifts, err := json.Marshal(d.Shifts)
			if err != nil {
				return err
			}
			if d.Skills == nil {
				d.Skills = []string{}
			}
			// The defaults apply to a new engineer only: an existing one keeps what was set.
			_, err = tx.Exec(ctx, `INSERT INTO engineers (id, display_name, active, updated_at, skills, home_lat, home_lng, shifts)
				VALUES ($1,$2,true,$3,$4,$5,$6,$7)
				ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, active = true, updated_at = EXCLUDED.updated_at`,
				u.ID, u.DisplayName, s.now(), d.Skills, d.Home.Lat, d.Home.Lng, shifts)
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE engineers SET active = false, display_name = $2, updated_at = $3 WHERE id = $1 AND active`, u.ID, u.DisplayName, s.now())
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		rows, err := tx.Query(ctx, `DELETE FROM assignments a USING jobs j WHERE a.job_id = j.id AND a.engineer_id = $1 AND j.state = $2 RETURNING j.id::text`, u.ID, job.Assigned)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1`, id, job.Open, s.now()); err != nil {
				return err
			}
			r, err := s.jobTx(ctx, tx, "postgres.Store.ApplyUser", id)
			if err != nil {
				return err
			}
			if err := s.emit(ctx, tx, r, job.Assigned, r.Cause); err != nil {
				return err
			}
		}
		return nil
	})
}

// HealthChange is what scheduling takes from quality.machine-health.v1.
type HealthChange struct {
	// MachineID is the machine.
	MachineID string
	// Health is the new health.
	Health job.Health
	// Reason is quality's reason.
	Reason string
	// At is when it was assessed.
	At time.Time
}

// ApplyHealth applies a machine-health change once per event: WARN/CRITICAL opens one
// maintenance job per incident, ANOMALOUS_UNCONFIRMED an inspection (or reprioritises the open
// incident job, turning an inspection into maintenance on escalation), OK cancels it. It
// returns the affected job (zero when nothing changed) and whether the event was new.
func (s *Store) ApplyHealth(ctx context.Context, consumer, eventID string, h HealthChange) (job.Record, bool, error) {
	const op = "postgres.Store.ApplyHealth"
	var out job.Record
	ran, err := s.once(ctx, op, consumer, eventID, func(tx pgx.Tx) error {
		crit := job.Medium
		var loc job.LatLng
		err := tx.QueryRow(ctx, `SELECT criticality, lat, lng FROM machines WHERE id = $1`, h.MachineID).Scan(&crit, &loc.Lat, &loc.Lng)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var open *job.Incident
		var cur job.Record
		var id string
		err = tx.QueryRow(ctx, `SELECT id::text FROM jobs WHERE machine_id = $1 AND kind IN ($2, $3) AND state IN ($4, $5) FOR UPDATE`,
			h.MachineID, job.Maintenance, job.Inspection, job.Open, job.Assigned).Scan(&id)
		switch {
		case err == nil:
			if cur, err = s.jobTx(ctx, tx, op, id); err != nil {
				return err
			}
			open = &job.Incident{JobID: id, Kind: cur.Kind, Health: cur.Health, Priority: cur.Priority}
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		d := job.DecideHealth(open, crit, h.Health)
		now := s.now()
		switch d.Action {
		case job.OpenJob:
			out = job.Record{Job: job.Job{Kind: d.Kind, MachineID: h.MachineID, Priority: d.Priority,
				Skill: job.SkillFor(h.Reason), Duration: job.Duration(d.Kind), Due: h.At.Add(job.Due(d.Priority)), Location: loc},
				Health: h.Health, Cause: d.Cause, Reason: h.Reason}
			if err := s.insertJob(ctx, tx, &out); err != nil {
				return err
			}
			return decide(ctx, tx, out.ID, h.MachineID, "", d.Cause, "open", 0, 0, now, h.At)
		case job.Reprioritize:
			prev := cur.State
			cur.Priority, cur.Health, cur.Reason, cur.Due = d.Priority, h.Health, h.Reason, cur.Created.Add(job.Due(d.Priority))
			// The new reason may name the failing part where the old one did not (a lone
			// uncorroborated rise, then vibration and temperature together): the skill follows,
			// and an engineer booked for the old skill is released so the job is planned anew.
			// An inspection escalated to maintenance needs a longer slot: planned anew too.
			skill := job.SkillFor(h.Reason)
			newSkill := skill != job.GeneralSkill && skill != cur.Skill
			if newSkill {
				cur.Skill = skill
			}
			escalated := d.Kind != cur.Kind
			if escalated {
				cur.Kind, cur.Duration = d.Kind, job.Duration(d.Kind)
			}
			if newSkill || escalated {
				if cur.State == job.Assigned {
					if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE job_id = $1`, cur.ID); err != nil {
						return err
					}
					cur.State, cur.EngineerID, cur.Starts, cur.Ends, cur.Travel = job.Open, "", time.Time{}, time.Time{}, 0
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE jobs SET priority = $2, health = $3, reason = $4, due_at = $5, cause = $6, skill = $7, state = $8,
				kind = $9, duration_minutes = $10, updated_at = $11 WHERE id = $1`,
				cur.ID, cur.Priority, cur.Health, cur.Reason, cur.Due, d.Cause, cur.Skill, cur.State, cur.Kind, int(cur.Duration/time.Minute), now); err != nil {
				return err
			}
			cur.Cause = d.Cause
			out = cur
			if err := decide(ctx, tx, cur.ID, h.MachineID, "", d.Cause, "reprioritise", 0, 0, now, h.At); err != nil {
				return err
			}
			return s.emit(ctx, tx, cur, prev, d.Cause)
		case job.CloseJob:
			if _, err := tx.Exec(ctx, `DELETE FROM assignments WHERE job_id = $1`, cur.ID); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE jobs SET state = $2, updated_at = $3 WHERE id = $1`, cur.ID, job.Cancelled, now); err != nil {
				return err
			}
			prev := cur.State
			cur.State, cur.EngineerID, cur.Starts, cur.Ends = job.Cancelled, "", time.Time{}, time.Time{}
			out = cur
			if err := decide(ctx, tx, cur.ID, h.MachineID, "", d.Cause, "close", 0, 0, now, h.At); err != nil {
				return err
			}
			return s.emit(ctx, tx, cur, prev, d.Cause)
		}
		return nil
	})
	return out, ran, err
}

// FaultChange is what scheduling takes from quality.sensor-faults.v1.
type FaultChange struct {
	// MachineID and SensorID name the sensor.
	MachineID, SensorID string
	// Evidence is quality's evidence.
	Evidence string
	// Cleared is whether the fault was cleared.
	Cleared bool
	// At is when the fault started.
	At time.Time
}

// ApplyFault applies a sensor fault once per event: a new fault opens one low-priority
// sensor-replacement job per sensor and records the emergency call-out its data alone would
// have caused as avoided. A cleared fault changes nothing (the replacement stays planned).
func (s *Store) ApplyFault(ctx context.Context, consumer, eventID string, f FaultChange) (job.Record, bool, error) {
	const op = "postgres.Store.ApplyFault"
	var out job.Record
	ran, err := s.once(ctx, op, consumer, eventID, func(tx pgx.Tx) error {
		if f.Cleared {
			return nil
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE sensor_id = $1 AND kind = $2 AND state IN ($3, $4)`,
			f.SensorID, job.SensorReplacement, job.Open, job.Assigned).Scan(&n); err != nil || n > 0 {
			return err
		}
		var loc job.LatLng
		err := tx.QueryRow(ctx, `SELECT lat, lng FROM machines WHERE id = $1`, f.MachineID).Scan(&loc.Lat, &loc.Lng)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		at := f.At
		if at.IsZero() {
			at = s.now()
		}
		out = job.Record{Job: job.Job{Kind: job.SensorReplacement, MachineID: f.MachineID, SensorID: f.SensorID,
			Priority: job.SensorReplacementPriority, Skill: job.SensorSkill, Duration: job.SensorReplacementDuration,
			Due: at.Add(job.Due(job.SensorReplacementPriority)), Location: loc}, Cause: job.SensorFault, Reason: f.Evidence}
		if err := s.insertJob(ctx, tx, &out); err != nil {
			return err
		}
		return decide(ctx, tx, out.ID, f.MachineID, f.SensorID, job.SensorFault, "open-replacement; emergency call-out avoided",
			1, job.EmergencyCalloutHours, s.now(), at)
	})
	return out, ran, err
}
