package service_test

import (
	"errors"
	"log/slog"
	"net/url"
	"reflect"
	"testing"
	"time"

	"meshwork.dev/platform/service"
)

type appConfig struct {
	service.Config
	DatabaseURL string        `env:"DATABASE_URL,required"`
	Workers     int           `env:"WORKERS" default:"4"`
	Ratio       float64       `env:"RATIO" default:"0.5"`
	Debug       bool          `env:"DEBUG"`
	Brokers     []string      `env:"BROKERS"`
	CatalogURL  *url.URL      `env:"CATALOG_URL"`
	Level       slog.Level    `env:"LEVEL"`
	CatalogAddr string        `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
	Poll        time.Duration `env:"POLL" default:"1m"`
	Untagged    string
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		preset service.Config
		env    map[string]string
		check  func(t *testing.T, c appConfig)
	}{
		{"defaults", service.Config{}, map[string]string{"DATABASE_URL": "postgres://db"}, func(t *testing.T, c appConfig) {
			want := service.Config{
				NATSURL: "nats://127.0.0.1:4222", NATSReplicas: 1, JWKSURL: "http://127.0.0.1:8001/.well-known/jwks.json",
				JWTIssuer: "meshwork-identity", JWTAudience: "meshwork", LogLevel: "info", ShutdownTimeout: 10 * time.Second,
			}
			if c.Config != want {
				t.Errorf("Config = %+v, want %+v", c.Config, want)
			}
			if c.DatabaseURL != "postgres://db" || c.Workers != 4 || c.Ratio != 0.5 || c.Debug || c.Brokers != nil ||
				c.CatalogURL != nil || c.CatalogAddr != "127.0.0.1:7000" || c.Poll != time.Minute {
				t.Errorf("cfg = %+v", c)
			}
		}},
		{"service defaults are kept", service.Defaults(":7003", ":8003"), map[string]string{"DATABASE_URL": "x"}, func(t *testing.T, c appConfig) {
			if c.GRPCAddr != ":7003" || c.HTTPAddr != ":8003" || c.NATSURL == "" {
				t.Errorf("cfg = %+v", c.Config)
			}
		}},
		{"environment wins", service.Defaults(":7003", ":8003"), map[string]string{
			"DATABASE_URL": "x", "GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "[::1]:9000", "SHUTDOWN_TIMEOUT": "3s",
			"WORKERS": "-2", "RATIO": "1e-3", "DEBUG": "true", "BROKERS": " a, b,,c ", "CATALOG_URL": "http://catalog:7000/x",
			"LEVEL": "debug", "LOG_LEVEL": "warn", "POLL": "1m30s",
		}, func(t *testing.T, c appConfig) {
			if c.GRPCAddr != "127.0.0.1:0" || c.HTTPAddr != "[::1]:9000" || c.ShutdownTimeout != 3*time.Second || c.LogLevel != "warn" {
				t.Errorf("Config = %+v", c.Config)
			}
			if c.Workers != -2 || c.Ratio != 0.001 || !c.Debug || !reflect.DeepEqual(c.Brokers, []string{"a", "b", "c"}) ||
				c.CatalogURL.Host != "catalog:7000" || c.Level != slog.LevelDebug || c.Poll != 90*time.Second {
				t.Errorf("cfg = %+v", c)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := appConfig{Config: tt.preset}
			if err := service.LoadConfig(env(tt.env), &c); err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"missing required", map[string]string{}, "config: DATABASE_URL: required but not set"},
		{"not host:port", map[string]string{"DATABASE_URL": "x", "GRPC_ADDR": "abc"}, `config: GRPC_ADDR: "abc" is not host:port`},
		{"port out of range", map[string]string{"DATABASE_URL": "x", "HTTP_ADDR": "localhost:70000"},
			`config: HTTP_ADDR: "localhost:70000" is not host:port (port must be 0-65535)`},
		{"named port", map[string]string{"DATABASE_URL": "x", "CATALOG_ADDR": "catalog:grpc"},
			`config: CATALOG_ADDR: "catalog:grpc" is not host:port (port must be 0-65535)`},
		{"url value is not echoed", map[string]string{"DATABASE_URL": "x", "CATALOG_URL": "user:secret@host"},
			"config: CATALOG_URL: is not an absolute URL"},
		{"text unmarshaler", map[string]string{"DATABASE_URL": "x", "LEVEL": "loud"},
			`config: LEVEL: "loud" is not valid: slog: level string "loud": unknown name`},
		{"every problem on one line", map[string]string{
			"GRPC_ADDR": "abc", "SHUTDOWN_TIMEOUT": "ten", "WORKERS": "many", "RATIO": "half", "DEBUG": "maybe",
		}, `config: GRPC_ADDR: "abc" is not host:port; SHUTDOWN_TIMEOUT: "ten" is not a duration (like 10s or 1m30s); ` +
			`DATABASE_URL: required but not set; WORKERS: "many" is not an integer; RATIO: "half" is not a number; ` +
			`DEBUG: "maybe" is not a boolean (true or false)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c appConfig
			err := service.LoadConfig(env(tt.env), &c)
			var ce *service.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("LoadConfig = %v, want a *ConfigError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("message:\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadConfigBadDefaultNamesTheVariable(t *testing.T) {
	t.Parallel()
	var c struct {
		Wait time.Duration `env:"WAIT" default:"soon"`
	}
	err := service.LoadConfig(env(nil), &c)
	if err == nil || err.Error() != `config: WAIT: default "soon" is not a duration (like 10s or 1m30s)` {
		t.Errorf("LoadConfig = %v", err)
	}
}

func TestLoadConfigProgrammingErrors(t *testing.T) {
	t.Parallel()
	var unsupported struct {
		M map[string]string `env:"M" default:"x"`
	}
	var c appConfig
	for name, dst := range map[string]any{"not a pointer": c, "nil": (*appConfig)(nil), "unsupported type": &unsupported} {
		err := service.LoadConfig(env(nil), dst)
		var ce *service.ConfigError
		if err == nil || errors.As(err, &ce) {
			t.Errorf("%s: LoadConfig = %v, want a plain error", name, err)
		}
	}
}
