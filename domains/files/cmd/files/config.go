package main

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"meshwork.dev/domains/files/crypt"
	"meshwork.dev/domains/files/presign"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/service"
)

// config is the service's environment (docs/files.md).
type config struct {
	service.Config
	service.ServiceAccount
	MongoURI      string        `env:"MONGODB_URI,required"`
	CatalogAddr   string        `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
	KEK           string        `env:"KEY_ENCRYPTION_KEY,required"`
	PresignKey    string        `env:"PRESIGN_KEY"`
	PublicURL     string        `env:"PUBLIC_URL"`
	MaxFileSize   int64         `env:"MAX_FILE_SIZE" default:"1073741824"`
	OwnerQuota    int64         `env:"OWNER_QUOTA" default:"10737418240"`
	PendingTTL    time.Duration `env:"PENDING_TTL" default:"24h"`
	PurgeAfter    time.Duration `env:"PURGE_AFTER" default:"720h"`
	SweepInterval time.Duration `env:"SWEEP_INTERVAL" default:"5m"`
}

// secrets are the parsed keys.
type secrets struct {
	kek     *crypt.KEK
	presign []byte
}

// load reads dst from getenv and parses the keys, reporting every problem in one
// *service.ConfigError. No key's value appears in a message.
func load(getenv func(string) string, cfg *config) (secrets, error) {
	var sec secrets
	err := service.LoadConfig(getenv, cfg)
	var ce *service.ConfigError
	if err != nil && !errors.As(err, &ce) {
		return sec, err
	}
	if ce == nil {
		ce = &service.ConfigError{}
	}
	problem := func(v, p string) { ce.Problems = append(ce.Problems, service.ConfigProblem{Var: v, Problem: p}) }
	if cfg.KEK != "" {
		raw, kerr := crypt.DecodeKey(cfg.KEK)
		if kerr != nil {
			problem("KEY_ENCRYPTION_KEY", errs.Message(kerr))
		} else {
			sec.kek, _ = crypt.NewKEK(raw)
			if sec.presign, kerr = presign.DeriveKey(raw); kerr != nil {
				problem("KEY_ENCRYPTION_KEY", errs.Message(kerr))
			}
		}
	}
	if cfg.PresignKey != "" {
		raw, perr := crypt.DecodeKey(cfg.PresignKey)
		if perr != nil {
			problem("PRESIGN_KEY", errs.Message(perr))
		}
		sec.presign = raw
	}
	if cfg.PublicURL != "" {
		if u, uerr := url.Parse(cfg.PublicURL); uerr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			problem("PUBLIC_URL", "must be an http(s) URL")
		}
	}
	for _, d := range []struct {
		name string
		ok   bool
	}{{"MAX_FILE_SIZE", cfg.MaxFileSize > 0}, {"OWNER_QUOTA", cfg.OwnerQuota > 0}, {"PENDING_TTL", cfg.PendingTTL > 0},
		{"PURGE_AFTER", cfg.PurgeAfter > 0}, {"SWEEP_INTERVAL", cfg.SweepInterval > 0}} {
		if !d.ok {
			problem(d.name, "must be positive")
		}
	}
	if len(ce.Problems) > 0 {
		return sec, ce
	}
	return sec, nil
}

// publicURL is where clients reach the HTTP port: PUBLIC_URL, else http://<HTTP addr> with
// 127.0.0.1 for an unspecified host.
func publicURL(cfg config, httpAddr string) string {
	if cfg.PublicURL != "" {
		return strings.TrimRight(cfg.PublicURL, "/")
	}
	if strings.HasPrefix(httpAddr, ":") || strings.HasPrefix(httpAddr, "[::]:") || strings.HasPrefix(httpAddr, "0.0.0.0:") {
		httpAddr = "127.0.0.1:" + httpAddr[strings.LastIndex(httpAddr, ":")+1:]
	}
	return "http://" + httpAddr
}
