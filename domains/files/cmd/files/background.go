package main

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/service"
)

func now() time.Time { return time.Now() }

// background starts the outbox relay, the sweeper and the catalog registration, and stops
// them at shutdown after in-flight RPCs have drained.
func background(ctx context.Context, svc *service.Service, store *mongo.Store, js jetstream.JetStream, cfg config) error {
	log := svc.Logger()
	creds, err := svc.Credentials(ctx, cfg.ServiceAccount)
	if err != nil {
		return err
	}
	relay := mongo.NewRelay(store, js, log)
	bg := svc.Background(ctx)
	bg.Go(func(ctx context.Context) error { _ = relay.Run(ctx); return nil })
	bg.Every(cfg.SweepInterval, "sweep", func(ctx context.Context) error {
		expired, purged, err := store.Sweep(ctx, cfg.PendingTTL, cfg.PurgeAfter)
		if err == nil && expired+purged > 0 {
			log.InfoContext(ctx, "swept", "expired", expired, "purged", purged)
		}
		return err
	})
	bg.Register(cfg.CatalogAddr, creds, stream.FileEvents)
	return nil
}
