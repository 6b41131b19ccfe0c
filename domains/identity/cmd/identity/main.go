// Command identity is the identity service (docs/identity.md): gRPC
// mesh.identity.v1.IdentityService on GRPC_ADDR (default :7001); JWKS at
// /.well-known/jwks.json, probes and metrics on HTTP_ADDR (default :8001). It needs
// DATABASE_URL, REDIS_URL, NATS_URL and KEY_ENCRYPTION_KEY. Subcommands (commands.go):
// bootstrap-admin, create-service-account, rotate-signing-key, generate-kek.
package main

import (
	"context"
	"os"
	"runtime"

	goredis "github.com/redis/go-redis/v9"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/password"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/redis"
	"meshwork.dev/domains/identity/rpc"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/totp"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

func main() {
	if code, handled := command(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	service.Main("identity", run)
}

func run(ctx context.Context, getenv func(string) string) error {
	cfg := config{Config: service.Defaults(":7001", ":8001")}
	key, err := load(getenv, &cfg, &cfg.KEK)
	if err != nil {
		return err
	}
	rdbOpts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "REDIS_URL", Problem: "is not a redis:// URL"}}}
	}
	pool, err := service.OpenPostgres(ctx, cfg.DatabaseURL, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.New(pool, key, stream.Message)
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	rdb := goredis.NewClient(rdbOpts)
	defer rdb.Close()
	mesh, err := service.JoinMesh(ctx, cfg.NATSURL, "identity", cfg.ServiceAccount, []dataproduct.Product{stream.Users})
	if err != nil {
		return err
	}
	defer mesh.Close()
	ring, err := loadKeys(ctx, store)
	if err != nil {
		return err
	}
	issuer := token.NewIssuer(token.Config{Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, AccessTTL: cfg.AccessTTL}, ring)
	hasher, err := password.NewHasher(password.Default, runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	svcCfg, selfKeys := selfVerification(cfg.Config, ring)
	svc, err := service.New(ctx, "identity", svcCfg, service.WithAuthRules(rpc.Rules), selfKeys)
	if err != nil {
		return err
	}
	defer svc.Close()
	defer revocation.Start(ctx, mesh.JS, svc.Revocations(), svc.Logger())()
	h := rpc.New(rpc.Deps{
		Store: store, Hasher: hasher, Issuer: issuer, Log: svc.Logger(), RefreshTTL: cfg.RefreshTTL, KeyReload: keyReload,
		ActivationDelay: cfg.KeyActivationDelay,
		Throttle:        redis.NewThrottle(rdb, redis.DefaultLimits),
		UsedCodes:       redis.NewUsedCodes(rdb, (2*totp.Skew+2)*totp.Period),
	})
	identityv1.RegisterIdentityServiceServer(svc.GRPC(), h)
	svc.HTTP().Handle("GET /.well-known/jwks.json", ring.Handler(postgres.Now))
	svc.Ready("postgres", store.Ping)
	svc.Ready("redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() })
	svc.Ready("nats", mesh.Connected)
	if err := background(ctx, svc, store, pool, mesh, h, issuer, cfg); err != nil {
		return err
	}
	return svc.Serve(ctx)
}
