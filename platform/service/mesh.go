package service

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct"
)

// Mesh is a domain service's link to the mesh: its NATS connection and JetStream, with the
// streams of the products it owns provisioned.
type Mesh struct {
	NC *nats.Conn
	JS jetstream.JetStream
}

// JoinMesh connects to NATS as name (ConnectNATS, granted the streams of products and the
// other streams in extra that the process manages) and provisions every product's stream,
// idempotently. Close the Mesh at shutdown.
func JoinMesh(ctx context.Context, url, name string, sa ServiceAccount, products []dataproduct.Product, extra ...string) (*Mesh, error) {
	nc, err := ConnectNATS(ctx, url, name, sa, append(dataproduct.Streams(products...), extra...))
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	for _, p := range products {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return &Mesh{NC: nc, JS: js}, nil
}

// Close closes the NATS connection.
func (m *Mesh) Close() { m.NC.Close() }

// Connected is the readiness check of the NATS connection: nil while it is connected.
func (m *Mesh) Connected(context.Context) error {
	if !m.NC.IsConnected() {
		return fmt.Errorf("not connected: %s", m.NC.Status())
	}
	return nil
}

// OpenPostgres opens a pool on DATABASE_URL url with at least minConns connections unless
// the URL sets pool_max_conns (0 keeps pgx's default). A URL pgx cannot read is a
// *ConfigError naming DATABASE_URL. Close the pool at shutdown.
func OpenPostgres(ctx context.Context, url string, minConns int32) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, &ConfigError{Problems: []ConfigProblem{{Var: "DATABASE_URL", Problem: err.Error()}}}
	}
	if !strings.Contains(url, "pool_max_conns") {
		pcfg.MaxConns = max(pcfg.MaxConns, minConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return pool, nil
}
