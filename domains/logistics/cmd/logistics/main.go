// Command logistics is the logistics service (docs/logistics.md): gRPC
// mesh.logistics.v1.LogisticsService on GRPC_ADDR (default :7004); probes and metrics on
// HTTP_ADDR (default :8004). It needs DATABASE_URL, REDIS_URL and NATS_URL, and subscribes to
// ingest.logistics.<vehicle> for raw pings.
package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	goredis "github.com/redis/go-redis/v9"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/postgres"
	"meshwork.dev/domains/logistics/redis"
	"meshwork.dev/domains/logistics/rpc"
	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

func main() { service.Main("logistics", run) }

func run(ctx context.Context, getenv func(string) string) error {
	cfg := config{Config: service.Defaults(":7004", ":8004")}
	if err := load(getenv, &cfg); err != nil {
		return err
	}
	rdbOpts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "REDIS_URL", Problem: "is not a redis:// URL"}}}
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pool.Close()
	store := postgres.New(pool)
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	rdb := goredis.NewClient(rdbOpts)
	defer rdb.Close()
	nc, err := service.ConnectNATS(ctx, cfg.NATSURL, "logistics", cfg.ServiceAccount, dataproduct.Streams(stream.All...))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	for _, p := range stream.All {
		if _, err := dataproduct.Provision(ctx, js, p); err != nil {
			return err
		}
	}
	svc, err := service.New(ctx, "logistics", cfg.Config, service.WithAuthRules(rpc.Rules))
	if err != nil {
		return err
	}
	defer svc.Close()
	defer revocation.Start(ctx, js, svc.Revocations(), svc.Logger())()
	dom, err := build(ctx, cfg, store, js, redis.NewLive(rdb, "logistics:"))
	if err != nil {
		return err
	}
	logisticsv1.RegisterLogisticsServiceServer(svc.GRPC(), dom.handler)
	svc.Ready("postgres", store.Ping)
	svc.Ready("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	svc.Ready("nats", func(context.Context) error {
		if !nc.IsConnected() {
			return fmt.Errorf("not connected: %s", nc.Status())
		}
		return nil
	})
	if err := background(ctx, svc, cfg, pool, js, nc, store, dom); err != nil {
		return err
	}
	return svc.Serve(ctx)
}
