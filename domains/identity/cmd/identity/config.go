package main

import (
	"errors"
	"time"

	"meshwork.dev/domains/identity/kek"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/service"
)

// config is the service's environment (docs/identity.md).
type config struct {
	service.Config
	// ServiceAccount carries NATS_TOKEN, identity's NATS credential (it has no client id).
	service.ServiceAccount
	DatabaseURL string        `env:"DATABASE_URL,required"`
	RedisURL    string        `env:"REDIS_URL,required"`
	CatalogAddr string        `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
	KEK         string        `env:"KEY_ENCRYPTION_KEY,required"`
	AccessTTL   time.Duration `env:"ACCESS_TOKEN_TTL" default:"15m"`
	RefreshTTL  time.Duration `env:"REFRESH_TOKEN_TTL" default:"168h"`
	// AuditRetention, RefreshGrace and PruneInterval drive the pruning job (prune in
	// background.go; postgres.Retention).
	AuditRetention time.Duration `env:"AUDIT_RETENTION" default:"9600h"`
	RefreshGrace   time.Duration `env:"REFRESH_TOKEN_GRACE" default:"168h"`
	PruneInterval  time.Duration `env:"PRUNE_INTERVAL" default:"1h"`
	// KeyActivationDelay is how long a rotated-in signing key is published before it signs;
	// the default is token.ActivationDelay(keyReload).
	KeyActivationDelay time.Duration `env:"KEY_ACTIVATION_DELAY" default:"1m"`
}

// toolConfig is what the subcommands need: the database and the KEK, not NATS or Redis.
type toolConfig struct {
	DatabaseURL string        `env:"DATABASE_URL,required"`
	KEK         string        `env:"KEY_ENCRYPTION_KEY,required"`
	AccessTTL   time.Duration `env:"ACCESS_TOKEN_TTL" default:"15m"`
	// KeyActivationDelay is config's, for rotate-signing-key.
	KeyActivationDelay time.Duration `env:"KEY_ACTIVATION_DELAY" default:"1m"`
}

// load reads dst (a *config or *toolConfig) from getenv and parses its KEK, reporting every
// problem in one *service.ConfigError. The KEK's value never appears in a message.
func load(getenv func(string) string, dst any, raw *string) (*kek.Key, error) {
	err := service.LoadConfig(getenv, dst)
	var ce *service.ConfigError
	if err != nil && !errors.As(err, &ce) {
		return nil, err
	}
	if ce == nil {
		ce = &service.ConfigError{}
	}
	var key *kek.Key
	if *raw != "" {
		var kerr error
		if key, kerr = kek.Parse(*raw); kerr != nil {
			ce.Problems = append(ce.Problems, service.ConfigProblem{Var: "KEY_ENCRYPTION_KEY", Problem: errs.Message(kerr)})
		}
	}
	var delay time.Duration
	switch c := dst.(type) {
	case *config:
		delay = c.KeyActivationDelay
	case *toolConfig:
		delay = c.KeyActivationDelay
	}
	if delay < 0 {
		ce.Problems = append(ce.Problems, service.ConfigProblem{Var: "KEY_ACTIVATION_DELAY", Problem: "must not be negative"})
	}
	if c, ok := dst.(*config); ok {
		for _, d := range []struct {
			name string
			v    time.Duration
		}{{"ACCESS_TOKEN_TTL", c.AccessTTL}, {"REFRESH_TOKEN_TTL", c.RefreshTTL}, {"AUDIT_RETENTION", c.AuditRetention},
			{"PRUNE_INTERVAL", c.PruneInterval}} {
			if d.v <= 0 {
				ce.Problems = append(ce.Problems, service.ConfigProblem{Var: d.name, Problem: "must be positive"})
			}
		}
		if c.RefreshGrace < 0 {
			ce.Problems = append(ce.Problems, service.ConfigProblem{Var: "REFRESH_TOKEN_GRACE", Problem: "must not be negative"})
		}
	}
	if len(ce.Problems) > 0 {
		return nil, ce
	}
	return key, nil
}
