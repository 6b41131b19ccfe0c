package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/catalogclient"
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
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { _ = relay.Run(bg) })
	wg.Go(func() {
		t := time.NewTicker(cfg.SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				expired, purged, err := store.Sweep(bg, cfg.PendingTTL, cfg.PurgeAfter)
				if err != nil {
					log.ErrorContext(bg, "sweep", "err", err)
				} else if expired+purged > 0 {
					log.InfoContext(bg, "swept", "expired", expired, "purged", purged)
				}
			}
		}
	})
	wg.Go(func() {
		conn, err := service.Dial(bg, cfg.CatalogAddr, creds)
		if err != nil {
			log.ErrorContext(bg, "catalog registration", "err", err)
			return
		}
		defer conn.Close()
		catalogclient.Keep(bg, log, conn, stream.FileEvents)
	})
	svc.OnShutdown(func(ctx context.Context) error {
		stop()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("background work: %w", ctx.Err())
		}
	})
	return nil
}
