package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/rpc"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/catalogclient"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

// config is the service's environment (docs/quality.md).
type config struct {
	service.Config
	service.ServiceAccount
	DatabaseURL string `env:"DATABASE_URL,required"`
	CatalogAddr string `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
}

// registryReload is how often the sensor snapshot is reloaded (changes by other replicas).
const registryReload = 30 * time.Second

// minPoolConns is the least Postgres pool size unless DATABASE_URL sets pool_max_conns.
const minPoolConns = 10

func run(ctx context.Context, getenv func(string) string) error {
	cfg := config{Config: service.Defaults(":7003", ":8003")}
	if err := service.LoadConfig(getenv, &cfg); err != nil {
		return err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "DATABASE_URL", Problem: err.Error()}}}
	}
	if !strings.Contains(cfg.DatabaseURL, "pool_max_conns") {
		// The raw → clean pipeline holds up to three connections; the relay, the ingest
		// bridge and the RPCs need their own.
		pcfg.MaxConns = max(pcfg.MaxConns, minPoolConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pool.Close()
	state := postgres.New(pool)
	if err := state.Migrate(ctx); err != nil {
		return err
	}
	reg := postgres.NewRegistry(pool)
	if err := reg.Reload(ctx); err != nil {
		return err
	}
	// quality manages its products' streams and the ingest stream in front of them.
	nc, err := service.ConnectNATS(ctx, cfg.NATSURL, "quality", cfg.ServiceAccount,
		append(dataproduct.Streams(stream.Products...), pipeline.IngestStream))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for _, p := range stream.Products {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			return err
		}
	}
	raw, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		return err
	}
	svc, err := service.New(ctx, "quality", cfg.Config, service.WithAuthRules(rpc.Rules))
	if err != nil {
		return err
	}
	defer svc.Close()
	defer revocation.Start(ctx, js, svc.Revocations(), svc.Logger())()
	qualityv1.RegisterQualityServiceServer(svc.GRPC(), rpc.New(reg, state, raw))
	svc.Ready("postgres", state.Ping)
	svc.Ready("nats", func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected: %s", nc.Status())
		}
		return nil
	})
	creds, err := svc.Credentials(ctx, cfg.ServiceAccount)
	if err != nil {
		return err
	}
	if err := background(ctx, svc, pool, nc, js, reg, state, raw, cfg.CatalogAddr, creds); err != nil {
		return err
	}
	return svc.Serve(ctx)
}

// background starts the ingest bridge, the raw-readings processor, the outbox relay, the
// registry reload and the catalog registration, and stops them at shutdown in that order:
// no new readings in, the processor drained, then the relay publishes what it committed.
func background(ctx context.Context, svc *service.Service, pool *pgxpool.Pool, nc *nats.Conn, js jetstream.JetStream,
	reg *postgres.Registry, state *postgres.State, raw *dataproduct.Publisher, catalogAddr string, creds grpc.DialOption) error {
	log := svc.Logger()
	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: stream.CleanReadings.DuplicateWindow, Logger: log})
	if err != nil {
		return err
	}
	bridge, err := pipeline.StartBridge(ctx, js, raw, reg, log)
	if err != nil {
		return err
	}
	proc := pipeline.NewProcessor(reg, state)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	consume, stopConsume := context.WithCancel(bg)
	var wg sync.WaitGroup
	consumeErr := make(chan error, 1)
	go func() { consumeErr <- state.ConsumeBatches(consume, js, proc, postgres.BatchConfig{Logger: log}) }()
	relayErr := make(chan error, 1)
	wg.Go(func() { relayErr <- relay.Run(bg) })
	wg.Go(func() {
		t := time.NewTicker(registryReload)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if err := reg.Reload(bg); err != nil {
					log.ErrorContext(bg, "reload sensor registry", "err", err)
				}
			}
		}
	})
	wg.Go(func() { register(bg, svc, catalogAddr, creds) })
	svc.OnShutdown(func(ctx context.Context) error {
		bridge.Stop()
		stopConsume()
		var subErr error
		select {
		case subErr = <-consumeErr: // the batch in flight is committed
		case <-ctx.Done():
			subErr = ctx.Err()
		}
		stop()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return errors.Join(subErr, <-relayErr)
		case <-ctx.Done():
			return fmt.Errorf("background work: %w", ctx.Err())
		}
	})
	return nil
}

// register registers the products with the catalog, retrying until it succeeds, the catalog
// refuses them (they must then be fixed), or ctx ends.
func register(ctx context.Context, svc *service.Service, catalogAddr string, creds grpc.DialOption) {
	log := svc.Logger()
	conn, err := service.Dial(ctx, catalogAddr, creds)
	if err != nil {
		log.ErrorContext(ctx, "catalog registration", "err", err)
		return
	}
	defer conn.Close()
	catalogclient.Keep(ctx, log, conn, stream.Products...)
}
