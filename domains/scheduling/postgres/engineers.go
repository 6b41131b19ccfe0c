package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/platform/errs"
)

// Engineer is an engineer as stored: planning data plus what identity says.
type Engineer struct {
	job.Engineer
	// DisplayName is from identity.
	DisplayName string
	// Active is false once identity deactivated the user or took the engineer role away.
	Active bool
}

const engineerSelect = `SELECT id, display_name, skills, home_lat, home_lng, shifts, active FROM engineers`

func scanEngineer(row pgx.Row) (Engineer, error) {
	var e Engineer
	var shifts []byte
	err := row.Scan(&e.ID, &e.DisplayName, &e.Skills, &e.Home.Lat, &e.Home.Lng, &shifts, &e.Active)
	if err == nil {
		err = json.Unmarshal(shifts, &e.Shifts)
	}
	return e, err
}

// Engineer returns an engineer, or a NotFound error.
func (s *Store) Engineer(ctx context.Context, id string) (Engineer, error) {
	e, err := scanEngineer(s.pool.QueryRow(ctx, engineerSelect+` WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, errs.E("postgres.Store.Engineer", errs.NotFound, "no engineer "+id)
	}
	return e, dbError("postgres.Store.Engineer", err)
}

// ListEngineers returns up to limit engineers by id after the page token (the last id).
func (s *Store) ListEngineers(ctx context.Context, activeOnly bool, limit int, token string) ([]Engineer, string, error) {
	rows, err := s.pool.Query(ctx, engineerSelect+` WHERE id > $1 AND (active OR NOT $2) ORDER BY id LIMIT $3`, token, activeOnly, limit+1)
	if err != nil {
		return nil, "", dbError("postgres.Store.ListEngineers", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Engineer, error) { return scanEngineer(r) })
	if err != nil {
		return nil, "", dbError("postgres.Store.ListEngineers", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// UpdateEngineer replaces an existing engineer's skills, home base and shifts.
func (s *Store) UpdateEngineer(ctx context.Context, e job.Engineer) (Engineer, error) {
	const op = "postgres.Store.UpdateEngineer"
	shifts, err := json.Marshal(e.Shifts)
	if err != nil {
		return Engineer{}, errs.Wrap(op, err)
	}
	if e.Skills == nil {
		e.Skills = []string{}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE engineers SET skills = $2, home_lat = $3, home_lng = $4, shifts = $5, updated_at = $6 WHERE id = $1`,
		e.ID, e.Skills, e.Home.Lat, e.Home.Lng, shifts, s.now())
	if err != nil {
		return Engineer{}, dbError(op, err)
	}
	if tag.RowsAffected() == 0 {
		return Engineer{}, errs.E(op, errs.NotFound, "no engineer "+e.ID)
	}
	return s.Engineer(ctx, e.ID)
}

// Machine is where a machine stands and how critical it is.
type Machine struct {
	// ID is the machine id (quality's).
	ID string
	// Site is quality's site name.
	Site string
	// Location is where it stands.
	Location job.LatLng
	// Criticality is quality's criticality.
	Criticality job.Criticality
}

// UpsertMachine stores a machine's location and criticality.
func (s *Store) UpsertMachine(ctx context.Context, m Machine) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO machines (id, site, lat, lng, criticality) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (id) DO UPDATE SET site = EXCLUDED.site, lat = EXCLUDED.lat, lng = EXCLUDED.lng, criticality = EXCLUDED.criticality`,
		m.ID, m.Site, m.Location.Lat, m.Location.Lng, m.Criticality)
	return dbError("postgres.Store.UpsertMachine", err)
}

// HasMachine reports whether the machine's location is known.
func (s *Store) HasMachine(ctx context.Context, id string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM machines WHERE id = $1)`, id).Scan(&ok)
	return ok, dbError("postgres.Store.HasMachine", err)
}

// UnlocatedMachines returns the machines of open or assigned jobs whose location is not known.
func (s *Store) UnlocatedMachines(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT j.machine_id FROM jobs j LEFT JOIN machines m ON m.id = j.machine_id
		WHERE m.id IS NULL AND j.state IN ($1, $2) ORDER BY 1`, job.Open, job.Assigned)
	if err != nil {
		return nil, dbError("postgres.Store.UnlocatedMachines", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, dbError("postgres.Store.UnlocatedMachines", err)
}

// Page returns the limit for a requested page size: 1..500, default 50; anything else is an
// Invalid error naming page_size.
func Page(size int32) (int, error) {
	switch {
	case size == 0:
		return 50, nil
	case size < 0 || size > 500:
		return 0, errs.BadRequest("postgres.Page", errs.Violation{Field: "page_size", Description: "must be between 1 and 500, got " + strconv.Itoa(int(size))})
	}
	return int(size), nil
}

// Busy returns every engineer's assigned slots overlapping [from, to) that start at or
// before frozen (later ones are movable), by engineer id.
func (s *Store) Busy(ctx context.Context, from, to, frozen time.Time) (map[string][]job.Window, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.engineer_id, a.starts_at, a.ends_at FROM assignments a JOIN jobs j ON j.id = a.job_id
		WHERE j.state = $3 AND a.ends_at > $1 AND a.starts_at < $2 AND a.starts_at <= $4 ORDER BY a.starts_at`, from, to, job.Assigned, frozen)
	if err != nil {
		return nil, dbError("postgres.Store.Busy", err)
	}
	defer rows.Close()
	out := map[string][]job.Window{}
	for rows.Next() {
		var id string
		var w job.Window
		if err := rows.Scan(&id, &w.Start, &w.End); err != nil {
			return nil, dbError("postgres.Store.Busy", err)
		}
		out[id] = append(out[id], job.Window{Start: w.Start.UTC(), End: w.End.UTC()})
	}
	return out, dbError("postgres.Store.Busy", rows.Err())
}
