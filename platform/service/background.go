package service

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"meshwork.dev/platform/catalogclient"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
)

// Background is the work a service runs beside its RPCs: outbox relays, periodic jobs,
// consumers, catalog registration. Its context outlives run's context until shutdown, so
// what the last RPCs committed is still published. At shutdown, after in-flight RPCs have
// drained, the BeforeStop hooks run (in order), then the context is cancelled and shutdown
// waits for every goroutine started with Go, within SHUTDOWN_TIMEOUT.
type Background struct {
	svc    *Service
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	errs   []error
	before []func(context.Context) error
}

// Background returns the service's background work group, stopped by a shutdown hook.
// Call it once, after New.
func (s *Service) Background(ctx context.Context) *Background {
	b := &Background{svc: s}
	b.ctx, b.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.OnShutdown(b.stop)
	return b
}

// Context is the context background work runs in: cancelled at shutdown, after the
// BeforeStop hooks.
func (b *Background) Context() context.Context { return b.ctx }

// Go runs fn in its own goroutine; its error is reported by shutdown.
func (b *Background) Go(fn func(ctx context.Context) error) {
	b.wg.Go(func() {
		if err := fn(b.ctx); err != nil {
			b.mu.Lock()
			b.errs = append(b.errs, err)
			b.mu.Unlock()
		}
	})
}

// Every runs fn every interval until shutdown; a failure is logged as what and retried at
// the next tick.
func (b *Background) Every(interval time.Duration, what string, fn func(ctx context.Context) error) {
	b.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-b.ctx.Done():
				return
			case <-t.C:
				if err := fn(b.ctx); err != nil {
					b.svc.log.ErrorContext(b.ctx, what, "err", err)
				}
			}
		}
	})
}

// BeforeStop adds a hook run at shutdown before the context is cancelled: stopping
// consumers and draining what they hold, so the relay still publishes what they committed.
func (b *Background) BeforeStop(hook func(ctx context.Context) error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.before = append(b.before, hook)
}

// Relay starts the Postgres outbox relay on pool, publishing to js; duplicateWindow is the
// smallest Duplicates window of the streams it publishes to.
func (b *Background) Relay(pool *pgxpool.Pool, js jetstream.JetStream, duplicateWindow time.Duration) error {
	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: duplicateWindow, Logger: b.svc.log})
	if err != nil {
		return err
	}
	b.Go(relay.Run)
	return nil
}

// Register keeps products registered with the catalog at catalogAddr (catalogclient.Keep),
// calling it with creds, until it succeeds, the catalog refuses them, or shutdown.
func (b *Background) Register(catalogAddr string, creds grpc.DialOption, products ...dataproduct.Product) {
	b.wg.Go(func() {
		var opts []grpc.DialOption
		if creds != nil {
			opts = append(opts, creds)
		}
		conn, err := Dial(b.ctx, catalogAddr, opts...)
		if err != nil {
			b.svc.log.ErrorContext(b.ctx, "catalog registration", "err", err)
			return
		}
		defer conn.Close()
		catalogclient.Keep(b.ctx, b.svc.log, conn, products...)
	})
}

// stop is the shutdown hook: the BeforeStop hooks, then cancel and wait.
func (b *Background) stop(ctx context.Context) error {
	b.mu.Lock()
	before := b.before
	b.mu.Unlock()
	var problems []error
	for _, hook := range before {
		if err := hook(ctx); err != nil {
			problems = append(problems, err)
		}
	}
	b.cancel()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("background work: %w", ctx.Err())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return errors.Join(append(problems, b.errs...)...)
}
