package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog"

	"meshwork.dev/platform/access"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalog/governance"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/catalog/rpc"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

// callout is the NATS auth callout's configuration; without NATS_ISSUER_SEED the catalog
// serves no callout (a server that another process answers for, or a test's).
type callout struct {
	IssuerSeed       string `env:"NATS_ISSUER_SEED"`
	AuthPassword     string `env:"NATS_AUTH_PASSWORD"`
	SystemPassword   string `env:"NATS_SYSTEM_PASSWORD"`
	IdentityPassword string `env:"NATS_IDENTITY_PASSWORD"`
}

// rules are the catalog's and the access service's RPC rules.
func rules() auth.Rules {
	r := maps.Clone(rpc.Rules)
	maps.Copy(r, rpc.AccessRules)
	return r
}

// platformGrants are what every service account reads without asking: identity's user
// changes, redacted, so that each service refuses a deactivated account's tokens at once
// (package revocation).
var platformGrants = []natsauth.Grant{{Product: revocation.Users.ID(), View: true}}

// serveCallout answers the server's authorization requests: tokens verified against
// identity's key set, permissions from the grants in gov, refusals on the audit trail,
// and gov's changes enforced by cutting the holder's connections.
func serveCallout(ctx context.Context, cfg config, svc *service.Service, gov *governance.Governor, auditor *governance.Auditor, store *postgres.Store) (func(), error) {
	if cfg.IssuerSeed == "" {
		svc.Logger().WarnContext(ctx, "NATS_ISSUER_SEED is not set: this catalog answers no NATS authorization requests")
		return func() {}, nil
	}
	keys := natsauth.Keys{IssuerSeed: cfg.IssuerSeed}
	issuer, err := keys.Issuer()
	if err != nil {
		return nil, &service.ConfigError{Problems: []service.ConfigProblem{{Var: "NATS_ISSUER_SEED", Problem: "is not an account nkey seed"}}}
	}
	connect := func(name, user, password string) (*nats.Conn, error) {
		nc, err := nats.Connect(withoutUser(cfg.NATSURL), nats.Name(name), nats.MaxReconnects(-1), nats.UserInfo(user, password))
		if err != nil {
			return nil, fmt.Errorf("nats %s as %s: %w", service.Redact(cfg.NATSURL), user, err)
		}
		return nc, nil
	}
	authConn, err := connect("catalog-auth-callout", natsauth.AuthUser, cfg.AuthPassword)
	if err != nil {
		return nil, err
	}
	sysConn, err := connect("catalog-governance-system", natsauth.SystemUser, cfg.SystemPassword)
	if err != nil {
		authConn.Close()
		return nil, err
	}
	domains := newDomainCache(store)
	passwords := map[string]string{}
	if cfg.IdentityPassword != "" {
		passwords[natsauth.IdentityPrincipal] = cfg.IdentityPassword
	}
	log := svc.Logger()
	co := natsauth.NewCallout(natsauth.Config{
		Verify:    verifyWith(svc.Verifier()),
		Issuer:    issuer,
		Passwords: passwords,
		Grants: func(ctx context.Context, p natsauth.Principal) ([]natsauth.Grant, error) {
			switch p.Kind {
			case natsauth.Service:
				g, err := gov.Grants(ctx, p.Domain)
				return append(g, platformGrants...), err
			case natsauth.Person:
				return gov.Grants(ctx, p.Subject)
			}
			return nil, nil
		},
		Domains: domains.get,
		Refused: func(r natsauth.Refusal) {
			auditor.Record(governance.AuditEntry(r.Principal, "auth.refused", "", "NATS connection from "+r.Host+": "+r.Reason))
		},
		Log: log,
	})
	gov.Enforce = func(ns string) {
		go func() {
			for _, principal := range []string{"svc-" + ns, ns} {
				if n, err := co.Kick(sysConn, principal); err != nil {
					log.Warn("cut connections", "principal", principal, "err", err)
				} else if n > 0 {
					log.Info("connections cut: permissions changed", "principal", principal, "connections", n)
				}
			}
		}()
	}
	sub, err := co.Serve(authConn)
	if err != nil {
		authConn.Close()
		sysConn.Close()
		return nil, err
	}
	return func() {
		_ = sub.Unsubscribe()
		authConn.Close()
		sysConn.Close()
	}, nil
}

// domainCache remembers the mesh's domains (the owners of registered products) for a while.
type domainCache struct {
	store *postgres.Store
	mu    sync.Mutex
	at    time.Time
	list  []string
}

func newDomainCache(store *postgres.Store) *domainCache { return &domainCache{store: store} }

func (c *domainCache) get(ctx context.Context) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < 10*time.Second {
		return c.list
	}
	links, err := c.store.Links(ctx)
	if err != nil {
		return c.list
	}
	var out []string
	for _, l := range links {
		if !slices.Contains(out, l.Domain) {
			out = append(out, l.Domain)
		}
	}
	c.list, c.at = out, time.Now()
	return out
}

// seed makes the grants of spec (ACCESS_SEED) once.
func seed(ctx context.Context, gov *governance.Governor, spec string) error {
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		ns, products, ok := strings.Cut(part, "=")
		if !ok || ns == "" {
			return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "ACCESS_SEED", Problem: fmt.Sprintf("%q is not <namespace>=<product>,...", part)}}}
		}
		for _, p := range strings.Split(products, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			p, pii := strings.CutSuffix(p, "+pii")
			if _, err := gov.Seed(ctx, ns, p, pii, "built-in consumption of the mesh"); err != nil {
				return fmt.Errorf("seed grant %s to %s: %w", p, ns, err)
			}
		}
	}
	return nil
}

// auditStreams records JetStream's stream advisories (created, updated, deleted) on the
// audit trail.
func auditStreams(nc *nats.Conn, auditor *governance.Auditor) (func(), error) {
	sub, err := nc.Subscribe("$JS.EVENT.ADVISORY.STREAM.*.*", func(m *nats.Msg) {
		var adv struct {
			Action string `json:"action"`
			Stream string `json:"stream"`
			Client *struct {
				User string `json:"user"`
				Name string `json:"name"`
			} `json:"client"`
		}
		if json.Unmarshal(m.Data, &adv) != nil || adv.Stream == "" {
			return
		}
		action := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(m.Subject, "$JS.EVENT.ADVISORY.STREAM."), "."+adv.Stream))
		switch action {
		case "created", "updated", "deleted":
		default:
			return
		}
		who := ""
		if adv.Client != nil {
			who = adv.Client.User
			if adv.Client.Name != "" {
				who += " (" + adv.Client.Name + ")"
			}
		}
		auditor.Record(governance.AuditEntry(who, "stream."+action, "", "stream "+adv.Stream))
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// withoutUser drops any credentials from the NATS URL(s) u, for a connection with its own.
func withoutUser(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if pu, err := url.Parse(p); err == nil && pu.User != nil {
			pu.User = nil
			parts[i] = pu.String()
		}
	}
	return strings.Join(parts, ",")
}

// startRedactor keeps the redacted views of the products with PII fields (governance.Redactor).
func startRedactor(ctx context.Context, key string, js jetstream.JetStream, cat *catalog.Catalog, log *slog.Logger) error {
	if key == "" {
		log.WarnContext(ctx, "PII_HASH_KEY is not set: no redacted views are kept, so services cannot follow identity.users.v1 for revocations")
		return nil
	}
	k, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(k) < 16 {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "PII_HASH_KEY", Problem: "must be base64 of at least 16 bytes"}}}
	}
	red := governance.NewRedactor(js, k, log)
	products := func(ctx context.Context) ([]*platformv1.DataProductDescriptor, error) {
		yes := true
		page, err := cat.List(ctx, catalog.Query{Filter: catalog.Filter{HasPII: &yes}, PageSize: 500})
		if err != nil {
			return nil, err
		}
		var out []*platformv1.DataProductDescriptor
		for _, s := range page.Products {
			e, err := cat.Product(ctx, s.Name)
			if err == nil {
				out = append(out, e.Descriptor)
			}
		}
		return out, nil
	}
	go red.Run(ctx, products, 5*time.Second)
	return nil
}

// verifyWith adapts v to the callout.
func verifyWith(v *auth.Verifier) func(context.Context, string) (natsauth.Identity, error) {
	return func(ctx context.Context, token string) (natsauth.Identity, error) {
		c, err := v.Verify(ctx, token)
		if err != nil {
			return natsauth.Identity{}, err
		}
		return natsauth.Identity{Subject: c.Subject, ClientID: c.ClientID, Roles: c.Roles, Expiry: c.Expiry}, nil
	}
}

// productGrants lists a product's approved access requests, for the ODCS export's roles.
func productGrants(store *postgres.Store) func(ctx context.Context, product string) ([]access.Request, error) {
	return func(ctx context.Context, product string) ([]access.Request, error) {
		rs, _, err := store.Requests(ctx, postgres.AccessFilter{Product: product, State: access.Approved, Limit: 500})
		return rs, err
	}
}
