package main

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/rpc"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/platform/auth"
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
func background(ctx context.Context, svc *service.Service, store *postgres.Store, pool *pgxpool.Pool, mesh *service.Mesh, h *rpc.Handler, issuer *token.Issuer, cfg config) error {
	bg := svc.Background(ctx)
	if err := bg.Relay(pool, mesh.JS, stream.Users.DuplicateWindow); err != nil {
		return err
	}
	bg.Every(keyReload, "reload signing keys", h.ReloadKeys)
	bg.Go(func(ctx context.Context) error {
		prune(ctx, svc, store, postgres.Retention{Audit: cfg.AuditRetention, RefreshGrace: cfg.RefreshGrace}, cfg.PruneInterval)
		return nil
	})
	bg.Register(cfg.CatalogAddr, selfToken(issuer), stream.Users)
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

// selfToken is the dial option with which identity calls the catalog: it signs its own
// service token, being the issuer.
func selfToken(issuer *token.Issuer) grpc.DialOption {
	self := func(context.Context) (string, error) {
		t, err := issuer.Issue(token.Access{Subject: token.ClientID("identity"), Roles: []string{"service"}}, postgres.Now())
		return t.Token, err
	}
	return grpc.WithPerRPCCredentials(auth.BearerToken(self))
}
