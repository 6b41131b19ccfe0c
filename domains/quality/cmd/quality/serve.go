package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/rpc"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

// config is the service's environment (docs/quality.md).
type config struct {
	service.Config
	service.ServiceAccount
	DatabaseURL string `env:"DATABASE_URL,required"`
	CatalogAddr string `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
	// Partitions is the number of partitions of raw-readings the replicas share
	// (pipeline.PartitionConfig); every replica must run with the same.
	Partitions int `env:"QUALITY_PARTITIONS" default:"8"`
}

// validate checks what LoadConfig cannot: the range of QUALITY_PARTITIONS.
func (c config) validate() error {
	if c.Partitions < 1 || c.Partitions > partition.MaxPartitions {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "QUALITY_PARTITIONS",
			Problem: fmt.Sprintf("must be between 1 and %d, got %d", partition.MaxPartitions, c.Partitions)}}}
	}
	return nil
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
	if err := cfg.validate(); err != nil {
		return err
	}
	// The raw → clean pipeline holds up to three connections; the relay, the ingest bridge
	// and the RPCs need their own.
	pool, err := service.OpenPostgres(ctx, cfg.DatabaseURL, minPoolConns)
	if err != nil {
		return err
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
	// quality manages its products' streams, the ingest stream in front of them, and the work
	// stream and membership bucket of its partitioned consumption of raw readings.
	mesh, err := service.JoinMesh(ctx, cfg.NATSURL, "quality", cfg.ServiceAccount, stream.Products,
		append(partition.Streams(stream.RawReadings, pipeline.Consumer), pipeline.IngestStream)...)
	if err != nil {
		return err
	}
	defer mesh.Close()
	js := mesh.JS
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
	svc.Ready("nats", mesh.Connected)
	creds, err := svc.Credentials(ctx, cfg.ServiceAccount)
	if err != nil {
		return err
	}
	if err := background(ctx, svc, pool, js, reg, state, raw, cfg, creds); err != nil {
		return err
	}
	return svc.Serve(ctx)
}

// background starts the ingest bridge, the raw-readings processor (this replica's share of
// the partitions), the outbox relay, the registry reload and the catalog registration, and
// stops them at shutdown in that order: no new readings in, the partitions handed over after
// their last batch is committed, then the relay publishes what it committed.
func background(ctx context.Context, svc *service.Service, pool *pgxpool.Pool, js jetstream.JetStream,
	reg *postgres.Registry, state *postgres.State, raw *dataproduct.Publisher, cfg config, creds grpc.DialOption) error {
	log := svc.Logger()
	bg := svc.Background(ctx)
	if err := bg.Relay(pool, js, stream.CleanReadings.DuplicateWindow); err != nil {
		return err
	}
	bridge, err := pipeline.StartBridge(ctx, js, raw, reg, log)
	if err != nil {
		return err
	}
	pcfg := pipeline.PartitionConfig(cfg.Partitions)
	pcfg.Logger = log
	parts, err := state.JoinPartitions(ctx, js, pipeline.NewProcessor(reg, state), pcfg)
	if err != nil {
		bridge.Stop()
		return err
	}
	log.Info("raw readings: joined the partitioned consumption", "replica", parts.Replica(), "partitions", cfg.Partitions)
	bg.Every(registryReload, "reload sensor registry", reg.Reload)
	bg.Register(cfg.CatalogAddr, creds, stream.Products...)
	bg.BeforeStop(func(ctx context.Context) error {
		bridge.Stop()
		return parts.Leave(ctx) // each partition's batch in flight is committed and acked
	})
	return nil
}
