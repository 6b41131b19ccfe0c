// Command logistics is the logistics service (docs/logistics.md): gRPC
// mesh.logistics.v1.LogisticsService on GRPC_ADDR (default :7004); probes and metrics on
// HTTP_ADDR (default :8004). It needs DATABASE_URL, REDIS_URL and NATS_URL, and subscribes to
// ingest.logistics.<vehicle> for raw pings.
package main

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/postgres"
	"meshwork.dev/domains/logistics/redis"
	"meshwork.dev/domains/logistics/rpc"
	"meshwork.dev/domains/logistics/stream"
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
	pool, err := service.OpenPostgres(ctx, cfg.DatabaseURL, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.New(pool)
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	rdb := goredis.NewClient(rdbOpts)
	defer rdb.Close()
	mesh, err := service.JoinMesh(ctx, cfg.NATSURL, "logistics", cfg.ServiceAccount, stream.All)
	if err != nil {
		return err
	}
	defer mesh.Close()
	svc, err := service.New(ctx, "logistics", cfg.Config, service.WithAuthRules(rpc.Rules))
	if err != nil {
		return err
	}
	defer svc.Close()
	defer revocation.Start(ctx, mesh.JS, svc.Revocations(), svc.Logger())()
	dom, err := build(ctx, cfg, store, mesh.JS, redis.NewLive(rdb, "logistics:"))
	if err != nil {
		return err
	}
	logisticsv1.RegisterLogisticsServiceServer(svc.GRPC(), dom.handler)
	svc.Ready("postgres", store.Ping)
	svc.Ready("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	svc.Ready("nats", mesh.Connected)
	if err := background(ctx, svc, cfg, pool, mesh, store, dom); err != nil {
		return err
	}
	return svc.Serve(ctx)
}
