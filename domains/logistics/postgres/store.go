// Package postgres stores the fleet and the learned travel-time model in Postgres, and enqueues
// the cell-travel-times events in the same transaction as the model rows (platform/outbox).
package postgres

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/fleet"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/migrate"
	"meshwork.dev/platform/outbox"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the logistics database.
type Store struct{ pool *pgxpool.Pool }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Now is the database clock's precision applied to the local clock.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// Ping checks the database.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Migrate applies the embedded migrations not yet applied, in order, then the outbox tables.
// Safe from several processes at once (platform/migrate holds an advisory lock).
func (s *Store) Migrate(ctx context.Context) error {
	const op = "postgres.Store.Migrate"
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return errs.Wrap(op, err)
	}
	if err := migrate.Apply(ctx, s.pool, "logistics", sub); err != nil {
		return dbError(op, err)
	}
	return errs.Wrap(op, outbox.Migrate(ctx, s.pool))
}

const vehicleCols = `id, type, capacity_kg, depot_lat, depot_lng, driver_user_id, created_at`

func scanVehicle(r pgx.Row) (fleet.Vehicle, error) {
	var v fleet.Vehicle
	var t string
	err := r.Scan(&v.ID, &t, &v.CapacityKg, &v.DepotLat, &v.DepotLng, &v.DriverUserID, &v.CreatedAt)
	v.Type = fleet.Type(t)
	v.CreatedAt = v.CreatedAt.UTC()
	return v, err
}

// CreateVehicle stores a new vehicle; errs.Conflict when the id exists.
func (s *Store) CreateVehicle(ctx context.Context, v fleet.Vehicle) (fleet.Vehicle, error) {
	const op = "postgres.Store.CreateVehicle"
	if v.CreatedAt.IsZero() {
		v.CreatedAt = Now()
	}
	row := s.pool.QueryRow(ctx, `INSERT INTO vehicles (`+vehicleCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING `+vehicleCols,
		v.ID, string(v.Type), v.CapacityKg, v.DepotLat, v.DepotLng, v.DriverUserID, v.CreatedAt)
	out, err := scanVehicle(row)
	return out, dbError(op, err)
}

// Vehicle returns one vehicle; errs.NotFound when absent.
func (s *Store) Vehicle(ctx context.Context, id string) (fleet.Vehicle, error) {
	v, err := scanVehicle(s.pool.QueryRow(ctx, `SELECT `+vehicleCols+` FROM vehicles WHERE id = $1`, id))
	return v, dbError("postgres.Store.Vehicle", err)
}

// UpdateVehicle replaces a vehicle's mutable fields; errs.NotFound when absent.
func (s *Store) UpdateVehicle(ctx context.Context, v fleet.Vehicle) (fleet.Vehicle, error) {
	row := s.pool.QueryRow(ctx, `UPDATE vehicles SET type=$2, capacity_kg=$3, depot_lat=$4, depot_lng=$5, driver_user_id=$6
WHERE id = $1 RETURNING `+vehicleCols, v.ID, string(v.Type), v.CapacityKg, v.DepotLat, v.DepotLng, v.DriverUserID)
	out, err := scanVehicle(row)
	return out, dbError("postgres.Store.UpdateVehicle", err)
}

// DeleteVehicle removes a vehicle; errs.NotFound when absent.
func (s *Store) DeleteVehicle(ctx context.Context, id string) error {
	const op = "postgres.Store.DeleteVehicle"
	tag, err := s.pool.Exec(ctx, `DELETE FROM vehicles WHERE id = $1`, id)
	if err != nil {
		return dbError(op, err)
	}
	if tag.RowsAffected() == 0 {
		return errs.E(op, errs.NotFound, "vehicle not found")
	}
	return nil
}

// ListVehicles returns up to limit vehicles with id > after, ordered by id.
func (s *Store) ListVehicles(ctx context.Context, after string, limit int) ([]fleet.Vehicle, error) {
	return s.vehicles(ctx, "postgres.Store.ListVehicles",
		`SELECT `+vehicleCols+` FROM vehicles WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// Vehicles returns the vehicles among ids that exist.
func (s *Store) Vehicles(ctx context.Context, ids []string) ([]fleet.Vehicle, error) {
	return s.vehicles(ctx, "postgres.Store.Vehicles", `SELECT `+vehicleCols+` FROM vehicles WHERE id = ANY($1)`, ids)
}

func (s *Store) vehicles(ctx context.Context, op, sql string, args ...any) ([]fleet.Vehicle, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, dbError(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fleet.Vehicle, error) { return scanVehicle(r) })
	return out, dbError(op, err)
}

// SaveModel upserts learned edges and enqueues events in one transaction.
func (s *Store) SaveModel(ctx context.Context, stats map[route.EdgeKey]route.EdgeStat, events []*nats.Msg) error {
	const op = "postgres.Store.SaveModel"
	return dbError(op, pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for k, v := range stats {
			b.Queue(`INSERT INTO edge_travel_times (from_cell, to_cell, bucket, seconds, samples, updated)
VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (from_cell, to_cell, bucket)
DO UPDATE SET seconds = EXCLUDED.seconds, samples = EXCLUDED.samples, updated = EXCLUDED.updated`,
				int64(k.From), int64(k.To), k.Bucket, v.Seconds, v.Samples, v.Updated)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		for _, m := range events {
			if err := outbox.Enqueue(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	}))
}

// LoadModel reads every learned edge into m.
func (s *Store) LoadModel(ctx context.Context, m *route.Model) (int, error) {
	const op = "postgres.Store.LoadModel"
	rows, err := s.pool.Query(ctx, `SELECT from_cell, to_cell, bucket, seconds, samples, updated FROM edge_travel_times`)
	if err != nil {
		return 0, dbError(op, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var from, to int64
		var k route.EdgeKey
		var v route.EdgeStat
		if err := rows.Scan(&from, &to, &k.Bucket, &v.Seconds, &v.Samples, &v.Updated); err != nil {
			return n, dbError(op, err)
		}
		k.From, k.To = h3.Cell(from), h3.Cell(to)
		m.Set(k, v)
		n++
	}
	return n, dbError(op, rows.Err())
}

func dbError(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return errs.Wrap(op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &errs.Error{Op: op, Kind: errs.NotFound, Msg: "vehicle not found", Err: err}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "23505" {
			return &errs.Error{Op: op, Kind: errs.Conflict, Msg: "vehicle already exists", Err: err}
		}
		return &errs.Error{Op: op, Kind: errs.Internal, Err: err}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return &errs.Error{Op: op, Kind: errs.Unavailable, Msg: "database unavailable", Err: err}
	}
	return &errs.Error{Op: op, Kind: errs.Internal, Err: err}
}
