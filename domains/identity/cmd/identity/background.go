package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/rpc"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalogclient"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/service"
)

// keyReload is how often the signing keys are reloaded from Postgres, so a rotation by
// another replica or by `identity rotate-signing-key` takes effect here.
const keyReload = 30 * time.Second

// loadKeys makes the first signing key on first start and returns the published keys.
func loadKeys(ctx context.Context, store *postgres.Store) (*token.Keyring, error) {
	now := postgres.Now()
	first := token.NewSigningKey(now)
	if _, err := store.EnsureSigningKey(ctx, first, audit.Entry{At: now, Action: audit.SigningKeyCreated, ActorID: "system", SubjectID: first.ID}); err != nil {
		return nil, err
	}
	keys, err := store.SigningKeys(ctx, now)
	if err != nil {
		return nil, err
	}
	return token.NewKeyring(keys)
}

// selfVerification returns the service config and option with which identity verifies its own
// callers: its own audience (so enrolment tokens reach it) and its keyring, in process, instead
// of a JWKS fetched over HTTP. JWKS_URL is not used by identity.
func selfVerification(cfg service.Config, ring *token.Keyring) (service.Config, service.Option) {
	cfg.JWTAudience = token.IdentityAudience(cfg.JWTAudience)
	keySet := func(context.Context) ([]byte, error) { return json.Marshal(ring.JWKS(postgres.Now())) }
	return cfg, service.WithKeySet(keySet)
}

// background starts what runs beside the RPCs — the outbox relay, the key reload, the
// pruning job and the catalog registration — and stops them at shutdown, after in-flight
// RPCs have drained. The relay and the reload outlive ctx until then, so the last changes are
// still published.
func background(ctx context.Context, svc *service.Service, store *postgres.Store, pool *pgxpool.Pool, js jetstream.JetStream, h *rpc.Handler, issuer *token.Issuer, cfg config) error {
	log := svc.Logger()
	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: stream.Users.DuplicateWindow, Logger: log})
	if err != nil {
		return err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	relayErr := make(chan error, 1)
	wg.Go(func() { relayErr <- relay.Run(bg) })
	wg.Go(func() {
		t := time.NewTicker(keyReload)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if err := h.ReloadKeys(bg); err != nil {
					log.ErrorContext(bg, "reload signing keys", "err", err)
				}
			}
		}
	})
	wg.Go(func() {
		prune(bg, svc, store, postgres.Retention{Audit: cfg.AuditRetention, RefreshGrace: cfg.RefreshGrace}, cfg.PruneInterval)
	})
	wg.Go(func() { register(bg, svc, issuer, cfg.CatalogAddr) })
	svc.OnShutdown(func(ctx context.Context) error {
		stop()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
			return <-relayErr
		case <-ctx.Done():
			return fmt.Errorf("background work: %w", ctx.Err())
		}
	})
	return nil
}

// prune deletes what only grows (postgres.Store.Prune) at start and every interval until ctx
// ends. A failed run is logged and the next one tries again.
func prune(ctx context.Context, svc *service.Service, store *postgres.Store, r postgres.Retention, interval time.Duration) {
	log := svc.Logger()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := store.Prune(ctx, r, postgres.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			log.ErrorContext(ctx, "prune", "err", err)
		case n.Any():
			log.InfoContext(ctx, "pruned", "refresh_tokens", n.RefreshTokens, "audit_entries", n.AuditEntries, "idempotency_keys", n.IdempotencyKeys)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// register registers identity.users.v1 with the catalog, retrying until it succeeds, the
// declaration is refused (it must then be fixed), or ctx ends. Identity signs its own
// service token: it is the issuer.
func register(ctx context.Context, svc *service.Service, issuer *token.Issuer, catalogAddr string) {
	log := svc.Logger()
	self := func(context.Context) (string, error) {
		t, err := issuer.Issue(token.Access{Subject: token.ClientID("identity"), Roles: []string{"service"}}, postgres.Now())
		return t.Token, err
	}
	conn, err := service.Dial(ctx, catalogAddr, grpc.WithPerRPCCredentials(auth.BearerToken(self)))
	if err != nil {
		log.ErrorContext(ctx, "catalog registration", "err", err)
		return
	}
	defer conn.Close()
	catalogclient.Keep(ctx, log, conn, stream.Users)
}
