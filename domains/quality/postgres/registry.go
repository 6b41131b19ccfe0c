package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/platform/errs"
)

// Machine is a registered machine.
type Machine struct {
	// ID, Site and Model describe it.
	ID, Site, Model string
	// Criticality is 1 (low) to 3 (high).
	Criticality int
	// CreatedAt is when it was registered.
	CreatedAt time.Time
	// Location is where it stands; nil when unknown.
	Location *Location
}

// Location is a WGS84 point in degrees (the database refuses lat outside [-90, 90] and lng
// outside [-180, 180]).
type Location struct {
	Lat, Lng float64
}

// machineColumns are the columns scanMachine reads, in order.
const machineColumns = `machine_id, site, model, criticality, created_at, lat, lng`

// scanMachine reads one row of machineColumns.
func scanMachine(row pgx.Row) (Machine, error) {
	var m Machine
	var lat, lng *float64
	if err := row.Scan(&m.ID, &m.Site, &m.Model, &m.Criticality, &m.CreatedAt, &lat, &lng); err != nil {
		return Machine{}, err
	}
	if lat != nil && lng != nil {
		m.Location = &Location{Lat: *lat, Lng: *lng}
	}
	return m, nil
}

// Registry stores machines and sensors and keeps a snapshot of the sensors in memory for the
// ingest path (Known, Spec). The snapshot is reloaded after each change made here and by
// Reload; the service calls Reload periodically, so a sensor another replica deleted is
// forgotten within that period.
type Registry struct {
	pool *pgxpool.Pool
	mu   sync.RWMutex
	snap map[string]readings.Spec // machine/sensor → spec
	// missMu guards misses, which holds when a sensor missing from snap was last found
	// missing in the database. Only readings of sensors absent from snap take it.
	missMu sync.Mutex
	misses map[string]time.Time
}

// NewRegistry returns the registry over pool (after Migrate).
func NewRegistry(pool *pgxpool.Pool) *Registry {
	return &Registry{pool: pool, snap: map[string]readings.Spec{}, misses: map[string]time.Time{}}
}

// Known reports whether sensor is registered on machine.
func (r *Registry) Known(machine, sensor string) bool { _, ok := r.Spec(machine, sensor); return ok }

// Spec returns a registered sensor. A sensor in the snapshot costs one read lock and nothing
// else. A sensor missing from it is looked up in the database, since another replica may have
// registered it; a sensor found missing there is not looked up again for missTTL, so readings
// of unknown sensors cannot flood the database.
func (r *Registry) Spec(machine, sensor string) (readings.Spec, bool) {
	key := machine + "/" + sensor
	r.mu.RLock()
	s, ok := r.snap[key]
	r.mu.RUnlock()
	if ok {
		return s, true
	}
	return r.lookup(key, machine, sensor)
}

// lookup is Spec for a sensor missing from the snapshot.
func (r *Registry) lookup(key, machine, sensor string) (readings.Spec, bool) {
	r.missMu.Lock()
	missed, wasMissed := r.misses[key]
	r.missMu.Unlock()
	if wasMissed && time.Since(missed) < missTTL {
		return readings.Spec{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), lookupTimeout)
	defer cancel()
	s, _, err := r.GetSensor(ctx, sensor)
	if err != nil || s.Machine != machine {
		if err == nil || errs.KindOf(err) == errs.NotFound {
			r.missMu.Lock()
			r.misses[key] = time.Now()
			r.missMu.Unlock()
		}
		return readings.Spec{}, false
	}
	r.mu.Lock()
	r.snap[key] = s
	r.mu.Unlock()
	r.missMu.Lock()
	delete(r.misses, key)
	r.missMu.Unlock()
	return s, true
}

// How long a sensor found unregistered is taken as unregistered, and how long a look-up of a
// sensor missing from the snapshot may take.
const (
	missTTL       = 2 * time.Second
	lookupTimeout = 2 * time.Second
)

// Reload refreshes the in-memory snapshot of the sensors.
func (r *Registry) Reload(ctx context.Context) error {
	list, err := r.ListSensors(ctx, "", "", 1<<30)
	if err != nil {
		return err
	}
	snap := make(map[string]readings.Spec, len(list))
	for _, s := range list {
		snap[s.Machine+"/"+s.ID] = s
	}
	r.mu.Lock()
	r.snap = snap
	r.mu.Unlock()
	r.missMu.Lock()
	r.misses = map[string]time.Time{}
	r.missMu.Unlock()
	return nil
}

// CreateMachine stores m; Conflict when its id exists.
func (r *Registry) CreateMachine(ctx context.Context, m Machine) (Machine, error) {
	const op = "postgres.CreateMachine"
	var lat, lng *float64
	if l := m.Location; l != nil {
		lat, lng = &l.Lat, &l.Lng
	}
	err := r.pool.QueryRow(ctx, `INSERT INTO quality_machines (machine_id, site, model, criticality, lat, lng) VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`,
		m.ID, m.Site, m.Model, m.Criticality, lat, lng).Scan(&m.CreatedAt)
	if err != nil {
		return Machine{}, mapErr(op, err, "machine "+m.ID)
	}
	return m, nil
}

// GetMachine returns one machine; NotFound when absent.
func (r *Registry) GetMachine(ctx context.Context, id string) (Machine, error) {
	m, err := scanMachine(r.pool.QueryRow(ctx, `SELECT `+machineColumns+` FROM quality_machines WHERE machine_id = $1`, id))
	if err != nil {
		return Machine{}, mapErr("postgres.GetMachine", err, "machine "+id)
	}
	return m, nil
}

// ListMachines lists machines of site ("" for all) with ids after after, at most limit.
func (r *Registry) ListMachines(ctx context.Context, site, after string, limit int) ([]Machine, error) {
	rows, err := r.pool.Query(ctx, `SELECT `+machineColumns+` FROM quality_machines
WHERE ($1 = '' OR site = $1) AND machine_id > $2 ORDER BY machine_id LIMIT $3`, site, after, limit)
	if err != nil {
		return nil, mapErr("postgres.ListMachines", err, "")
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Machine, error) { return scanMachine(row) })
	if err != nil {
		return nil, mapErr("postgres.ListMachines", err, "")
	}
	return out, nil
}

// DeleteMachine removes a machine and its sensors; NotFound when absent.
func (r *Registry) DeleteMachine(ctx context.Context, id string) error {
	return r.exec(ctx, "postgres.DeleteMachine", "machine "+id, `DELETE FROM quality_machines WHERE machine_id = $1`, id)
}

// CreateSensor stores s; NotFound when its machine is absent, Conflict when its id exists —
// on any machine: sensor ids are unique across machines, and the message names the machine
// that holds it.
func (r *Registry) CreateSensor(ctx context.Context, s readings.Spec, unit string) error {
	const op = "postgres.CreateSensor"
	err := r.exec(ctx, op, "sensor "+s.ID+" of machine "+s.Machine,
		`INSERT INTO quality_sensors (sensor_id, machine_id, kind, unit, min_value, max_value, interval_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		s.ID, s.Machine, string(s.Kind), unit, s.Min, s.Max, s.Interval.Milliseconds())
	if errs.KindOf(err) != errs.Conflict {
		return err
	}
	var holder string
	if r.pool.QueryRow(ctx, `SELECT machine_id FROM quality_sensors WHERE sensor_id = $1`, s.ID).Scan(&holder) != nil {
		return err // deleted meanwhile: the first answer stands
	}
	if holder == s.Machine {
		return errs.Errorf(op, errs.Conflict, "sensor %s of machine %s already exists", s.ID, s.Machine)
	}
	return errs.Errorf(op, errs.Conflict, "sensor %s already exists on machine %s (sensor ids are unique across machines)", s.ID, holder)
}

// GetSensor returns one sensor and its unit; NotFound when absent.
func (r *Registry) GetSensor(ctx context.Context, id string) (readings.Spec, string, error) {
	var s readings.Spec
	var unit, kind string
	var ms int64
	err := r.pool.QueryRow(ctx, `SELECT sensor_id, machine_id, kind, unit, min_value, max_value, interval_ms FROM quality_sensors WHERE sensor_id = $1`, id).
		Scan(&s.ID, &s.Machine, &kind, &unit, &s.Min, &s.Max, &ms)
	if err != nil {
		return s, "", mapErr("postgres.GetSensor", err, "sensor "+id)
	}
	s.Kind, s.Interval = readings.Kind(kind), time.Duration(ms)*time.Millisecond
	return s, unit, nil
}

// Units maps sensor ids to units, for listing.
type Units map[string]string

// ListSensors lists sensors of machine ("" for all) with ids after after, at most limit.
func (r *Registry) ListSensors(ctx context.Context, machine, after string, limit int) ([]readings.Spec, error) {
	specs, _, err := r.ListSensorsWithUnits(ctx, machine, after, limit)
	return specs, err
}

// ListSensorsWithUnits is ListSensors with the units.
func (r *Registry) ListSensorsWithUnits(ctx context.Context, machine, after string, limit int) ([]readings.Spec, Units, error) {
	const op = "postgres.ListSensors"
	rows, err := r.pool.Query(ctx, `SELECT sensor_id, machine_id, kind, unit, min_value, max_value, interval_ms FROM quality_sensors
WHERE ($1 = '' OR machine_id = $1) AND sensor_id > $2 ORDER BY sensor_id LIMIT $3`, machine, after, limit)
	if err != nil {
		return nil, nil, mapErr(op, err, "")
	}
	defer rows.Close()
	var out []readings.Spec
	units := Units{}
	for rows.Next() {
		var s readings.Spec
		var kind, unit string
		var ms int64
		if err := rows.Scan(&s.ID, &s.Machine, &kind, &unit, &s.Min, &s.Max, &ms); err != nil {
			return nil, nil, mapErr(op, err, "")
		}
		s.Kind, s.Interval = readings.Kind(kind), time.Duration(ms)*time.Millisecond
		out = append(out, s)
		units[s.ID] = unit
	}
	if err := rows.Err(); err != nil {
		return nil, nil, mapErr(op, err, "")
	}
	return out, units, nil
}

// DeleteSensor removes a sensor; NotFound when absent.
func (r *Registry) DeleteSensor(ctx context.Context, id string) error {
	return r.exec(ctx, "postgres.DeleteSensor", "sensor "+id, `DELETE FROM quality_sensors WHERE sensor_id = $1`, id)
}

// exec runs a change that must touch a row, then reloads the snapshot.
func (r *Registry) exec(ctx context.Context, op, what, sql string, args ...any) error {
	tag, err := r.pool.Exec(ctx, sql, args...)
	if err != nil {
		return mapErr(op, err, what)
	}
	if tag.RowsAffected() == 0 {
		return errs.Errorf(op, errs.NotFound, "%s does not exist", what)
	}
	if err := r.Reload(ctx); err != nil {
		return errs.Wrap(op, err)
	}
	return nil
}

func mapErr(op string, err error, what string) error {
	var pe *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return errs.Errorf(op, errs.NotFound, "%s does not exist", what)
	case errors.As(err, &pe) && pe.Code == "23505":
		return errs.Errorf(op, errs.Conflict, "%s already exists", what)
	case errors.As(err, &pe) && pe.Code == "23503":
		return errs.Errorf(op, errs.NotFound, "%s: its machine does not exist", what)
	}
	return errs.Wrap(op, fmt.Errorf("%s: %w", what, err))
}
