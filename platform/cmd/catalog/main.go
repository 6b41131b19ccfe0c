// Command catalog is the data-product catalog service (docs/catalog.md): gRPC
// mesh.platform.v1.CatalogService on GRPC_ADDR (default :7000), the web UI, probes and
// metrics on HTTP_ADDR (default :8000). It needs DATABASE_URL and NATS_URL; NATS_PUBLIC_URL
// (default NATS_URL) is the NATS address exported contracts give consumers.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/changes"
	"meshwork.dev/platform/catalog/governance"
	"meshwork.dev/platform/catalog/observe"
	"meshwork.dev/platform/catalog/odcs"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/catalog/rpc"
	"meshwork.dev/platform/catalog/web"
	"meshwork.dev/platform/catalog/web/governed"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

func main() { service.Main("catalog", run) }

type config struct {
	service.Config
	DatabaseURL   string `env:"DATABASE_URL,required"`
	NATSPublicURL string `env:"NATS_PUBLIC_URL"`
	// NATSUser and NATSPassword are the governance service's static NATS user.
	NATSUser     string `env:"NATS_USER"`
	NATSPassword string `env:"NATS_PASSWORD"`
	callout
	// AccessSeed lists grants the mesh's bootstrap makes once, approved:
	// <namespace>=<product>[+pii],<product>;<namespace>=... (the launcher's built-in edges).
	AccessSeed string `env:"ACCESS_SEED"`
	// PIIHashKey (base64) keys the hashes that stand for PII fields in redacted views; without
	// it no views are kept and grants without PII open nothing of a product with PII.
	PIIHashKey string `env:"PII_HASH_KEY"`
	// IdentityAddr is identity's gRPC address, for the console's sign-in.
	IdentityAddr string `env:"IDENTITY_ADDR" default:"127.0.0.1:7001"`
	// ConsoleServices are the services the console's health page watches (name=url,…).
	ConsoleServices string `env:"CONSOLE_SERVICES"`
}

func run(ctx context.Context, getenv func(string) string) error {
	cfg := config{Config: service.Defaults(":7000", ":8000")}
	if err := service.LoadConfig(getenv, &cfg); err != nil {
		return err
	}
	if cfg.NATSPublicURL == "" {
		cfg.NATSPublicURL = cfg.NATSURL
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	defer pool.Close()
	store := postgres.New(pool, changes.Message)
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	svc, err := service.New(ctx, "catalog", cfg.Config, service.WithAuthRules(rules()))
	if err != nil {
		return err
	}
	defer svc.Close()
	opts := []nats.Option{nats.Name("catalog"), nats.MaxReconnects(-1)}
	if cfg.NATSUser != "" {
		opts = append(opts, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	}
	nc, err := nats.Connect(cfg.NATSURL, opts...)
	if err != nil {
		return fmt.Errorf("nats %s: %w", service.Redact(cfg.NATSURL), err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if _, err := dataproduct.Provision(ctx, js, changes.Product); err != nil {
		return err
	}
	if err := governance.ProvisionStreams(ctx, js); err != nil {
		return err
	}
	cat := catalog.New(store, observe.New(js))
	for _, p := range []dataproduct.Product{changes.Product, governance.AccessChanges, governance.Audit} {
		if _, err := cat.Register(ctx, p.Descriptor()); err != nil {
			return fmt.Errorf("register %s: %w", p.ID(), err)
		}
	}
	auditor := governance.NewAuditor(js, svc.Logger())
	go auditor.Run(context.WithoutCancel(ctx))
	gov := governance.New(store, cat, svc.Logger())
	gov.Auditor = auditor
	stopCallout, err := serveCallout(ctx, cfg, svc, gov, auditor, store)
	if err != nil {
		return err
	}
	defer stopCallout()
	if err := seed(ctx, gov, cfg.AccessSeed); err != nil {
		return err
	}
	go gov.RunExpiry(ctx, 2*time.Second)
	if err := startRedactor(ctx, cfg.PIIHashKey, js, cat, svc.Logger()); err != nil {
		return err
	}
	stopAdvisories, err := auditStreams(nc, auditor)
	if err != nil {
		return err
	}
	defer stopAdvisories()
	defer revocation.Start(ctx, js, svc.Revocations(), svc.Logger())()
	platformv1.RegisterCatalogServiceServer(svc.GRPC(), rpc.NewHandler(cat, odcs.Options{NATSURL: cfg.NATSPublicURL}).WithGrants(productGrants(store)))
	platformv1.RegisterAccessServiceServer(svc.GRPC(), rpc.NewAccessHandler(gov, js))
	if cfg.ConsoleServices == "" {
		cfg.ConsoleServices = web.DefaultEndpoints
	}
	services, err := web.ParseEndpoints(cfg.ConsoleServices)
	if err != nil {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "CONSOLE_SERVICES", Problem: err.Error()}}}
	}
	identityConn, err := service.Dial(ctx, cfg.IdentityAddr)
	if err != nil {
		return fmt.Errorf("identity %s: %w", cfg.IdentityAddr, err)
	}
	defer identityConn.Close()
	web.New(web.Config{
		Catalog: cat, Log: svc.Logger(), JetStream: js, Revisions: store.Revisions,
		ODCS: odcs.Options{NATSURL: cfg.NATSPublicURL}, Identity: web.IdentityService(identityConn), Services: services,
		Access: governed.New(gov, svc.Verifier(), js),
	}).Register(svc.HTTP())
	svc.Ready("postgres", pool.Ping)
	svc.Ready("nats", func(context.Context) error {
		if !nc.IsConnected() {
			return errors.New("not connected: " + nc.Status().String())
		}
		return nil
	})

	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: changes.Product.DuplicateWindow, Logger: svc.Logger()})
	if err != nil {
		return err
	}
	// The relay outlives ctx: shutdown stops it after in-flight registrations have drained,
	// and it finishes and commits the batch it is publishing.
	relayCtx, stopRelay := context.WithCancel(context.WithoutCancel(ctx))
	relayDone := make(chan error, 1)
	go func() { relayDone <- relay.Run(relayCtx) }()
	svc.OnShutdown(func(ctx context.Context) error {
		stopRelay()
		select {
		case err := <-relayDone:
			return err
		case <-ctx.Done():
			return fmt.Errorf("outbox relay: %w", ctx.Err())
		}
	})
	return svc.Serve(ctx)
}
