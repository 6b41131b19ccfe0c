// Package service starts a Meshwork domain service in a few lines: configuration from the
// environment, a gRPC server with health, reflection, auth, error mapping, panic recovery and
// telemetry, an HTTP server for probes and metrics, and a graceful shutdown.
//
// A domain's main.go wires and nothing more:
//
//	func main() { service.Main("quality", run) }
//
//	func run(ctx context.Context, getenv func(string) string) error {
//		var cfg struct {
//			service.Config
//			DatabaseURL string `env:"DATABASE_URL,required"`
//		}
//		cfg.Config = service.Defaults(":7003", ":8003") // the environment still overrides these
//		if err := service.LoadConfig(getenv, &cfg); err != nil {
//			return err
//		}
//		svc, err := service.New(ctx, "quality", cfg.Config, service.WithAuthRules(rpc.Rules))
//		if err != nil {
//			return err
//		}
//		defer svc.Close() // frees the ports if a later step fails; a no-op once Serve has run
//		pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
//		if err != nil {
//			return err
//		}
//		svc.OnShutdown(func(context.Context) error { pool.Close(); return nil })
//		svc.Ready("postgres", pool.Ping)                 // /readyz is 200 only while this passes
//		qualityv1.RegisterQualityServiceServer(svc.GRPC(), rpc.NewHandler(pool))
//		svc.OnShutdown(func(ctx context.Context) error { return consumer.Drain(ctx) })
//		return svc.Serve(ctx) // blocks until ctx is done, then shuts down gracefully
//	}
//
// Main cancels ctx on SIGINT or SIGTERM and turns run's error into one line on stderr and an
// exit status: 2 for a *ConfigError (a missing or malformed variable), 1 otherwise.
//
// The gRPC server runs every call through, in order: panic recovery (a panic becomes Internal
// and is logged with its stack; the process keeps serving), error mapping (errs kinds become
// status codes; errs.Invalid carries google.rpc.BadRequest field violations; only Internal
// errors are logged, and their details never reach the client), and auth (the rules given with
// WithAuthRules; a service without rules denies everything but health and reflection).
// grpc.health.v1 reports SERVING while Serve runs, and server reflection is on.
//
// The HTTP server answers /healthz (the process is alive), /readyz (200 with a JSON report when
// every Ready check passes, 503 otherwise) and /metrics (Prometheus); HTTP() adds more.
//
// Tests run the same run function on port 0 (GRPC_ADDR=127.0.0.1:0) and learn the bound
// addresses through NotifyServing.
package service
