package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/telemetry"
)

// Service is one running domain service: a gRPC server with health, reflection, auth and
// telemetry, and an HTTP server for probes, metrics and extras. Build it with New, register
// handlers and readiness checks, then call Serve once.
type Service struct {
	name string
	cfg  Config
	tel  *telemetry.Telemetry
	log  *slog.Logger

	verifier *auth.Verifier
	grpc     *grpc.Server
	health   *health.Server
	stopping context.Context // cancelled when shutdown begins
	stop     context.CancelFunc
	grpcLis  net.Listener
	mux      *http.ServeMux
	httpSrv  *http.Server
	httpLis  net.Listener
	serving  atomic.Bool // true between Serve starting and shutdown beginning
	draining atomic.Bool // true once shutdown has begun
	started  atomic.Bool // Serve or Close has been called
	mu       sync.Mutex
	checks   []readyCheck
	hooks    []func(context.Context) error

	revocations *auth.Revocations
}

type options struct {
	rules     auth.Rules
	version   string
	logOutput io.Writer
	keySet    func(context.Context) ([]byte, error)
}

// Option changes how New builds a Service.
type Option func(*options)

// WithAuthRules sets who may call each RPC (see package auth). Without it every RPC but health
// and reflection is denied.
func WithAuthRules(rules auth.Rules) Option { return func(o *options) { o.rules = rules } }

// WithKeySet makes the service verify tokens against keys it holds itself instead of fetching
// JWKS_URL: keySet returns the JWKS document. It is for identity, the issuer of the keys.
func WithKeySet(keySet func(ctx context.Context) ([]byte, error)) Option {
	return func(o *options) { o.keySet = keySet }
}

// WithVersion sets the service.version reported in telemetry.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// WithLogOutput sends the JSON logs to w instead of stdout.
func WithLogOutput(w io.Writer) Option { return func(o *options) { o.logOutput = w } }

// New sets up telemetry, binds the gRPC and HTTP listeners and builds the servers; nothing is
// served until Serve. Zero fields of cfg take their defaults, as with LoadConfig; an empty
// listen address or an unknown log level is a *ConfigError.
func New(ctx context.Context, name string, cfg Config, opts ...Option) (*Service, error) {
	const op = "service.New"
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkConfig(&cfg); err != nil {
		return nil, err
	}
	tel, err := telemetry.Setup(ctx, telemetry.Config{
		ServiceName: name, Version: o.version, LogLevel: cfg.LogLevel, LogOutput: o.logOutput, OTLPEndpoint: cfg.OTLPEndpoint,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	revocations := auth.NewRevocations()
	verifier, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: cfg.JWKSURL, KeySet: o.keySet, Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience,
		Revocations: revocations})
	if err != nil {
		_ = tel.Shutdown(ctx)
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	s := &Service{name: name, cfg: cfg, tel: tel, log: tel.Logger(), health: health.NewServer(), mux: http.NewServeMux(), revocations: revocations,
		verifier: verifier}
	s.stopping, s.stop = context.WithCancel(context.Background())

	guard := auth.NewGuard(verifier, o.rules, s.log)
	s.grpc = grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider()),
			otelgrpc.WithMeterProvider(tel.MeterProvider()),
			otelgrpc.WithPropagators(tel.Propagator()),
		)),
		grpc.ChainUnaryInterceptor(s.recoverUnary, s.mapErrorsUnary, guard.Unary()),
		grpc.ChainStreamInterceptor(s.recoverStream, s.mapErrorsStream, guard.Stream()),
	)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	healthpb.RegisterHealthServer(s.grpc, healthServer{Server: s.health, stopping: s.stopping})
	reflection.Register(s.grpc)

	s.mux.HandleFunc("GET /healthz", s.serveHealthz)
	s.mux.HandleFunc("GET /readyz", s.serveReadyz)
	s.mux.Handle("GET /metrics", tel.MetricsHandler())
	s.httpSrv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}

	if s.grpcLis, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		_ = tel.Shutdown(ctx)
		return nil, fmt.Errorf("%s: listen GRPC_ADDR %s: %w", op, cfg.GRPCAddr, err)
	}
	if s.httpLis, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		_ = s.grpcLis.Close()
		_ = tel.Shutdown(ctx)
		return nil, fmt.Errorf("%s: listen HTTP_ADDR %s: %w", op, cfg.HTTPAddr, err)
	}
	return s, nil
}

// Close releases what New took — the bound listeners and telemetry — for a service whose
// start-up failed before Serve. Once Serve has been called it does nothing, as Serve cleans up
// itself, so a run function can defer it right after New.
func (s *Service) Close() error {
	if s.started.Swap(true) {
		return nil
	}
	s.stop()
	return errors.Join(s.grpcLis.Close(), s.httpLis.Close(), s.tel.Shutdown(context.Background()))
}

// GRPC returns the gRPC server, to register the service's handlers before Serve.
func (s *Service) GRPC() *grpc.Server { return s.grpc }

// HTTP returns the HTTP mux, to add extras (JWKS, presigned URLs, a web UI) before Serve.
// /healthz, /readyz and /metrics are taken.
func (s *Service) HTTP() *http.ServeMux { return s.mux }

// GRPCAddr returns the bound gRPC address (useful when GRPC_ADDR has port 0).
func (s *Service) GRPCAddr() string { return s.grpcLis.Addr().String() }

// HTTPAddr returns the bound HTTP address.
func (s *Service) HTTPAddr() string { return s.httpLis.Addr().String() }

// Revocations returns the tokens identity has taken back, which the service's token checks
// refuse; revocation.Follow keeps them up to date from identity.users.v1.
func (s *Service) Revocations() *auth.Revocations { return s.revocations }

// Verifier is the verifier of the service's callers' tokens, for other doors than gRPC (the
// catalog's NATS callout, web sign-in).
func (s *Service) Verifier() *auth.Verifier { return s.verifier }

// Logger returns the service's logger, which adds trace ids to records logged with a context.
func (s *Service) Logger() *slog.Logger { return s.log }

// Telemetry returns the service's telemetry, for its meters, tracers and metrics registry.
func (s *Service) Telemetry() *telemetry.Telemetry { return s.tel }

// Ready adds a readiness check: /readyz answers 200 only while every check returns nil within
// a short timeout. check must honour ctx.
func (s *Service) Ready(name string, check func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, readyCheck{name: name, check: check})
}

// OnShutdown adds a hook run at shutdown, after in-flight RPCs have drained and before the HTTP
// server stops. Hooks run in reverse order of registration, within SHUTDOWN_TIMEOUT.
func (s *Service) OnShutdown(hook func(ctx context.Context) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, hook)
}

type servingKey struct{}

// NotifyServing returns a context that makes Serve call fn with the bound addresses once the
// service serves. Component tests run a domain's run(ctx, getenv) on port 0 with it to learn
// where to connect.
func NotifyServing(ctx context.Context, fn func(grpcAddr, httpAddr string)) context.Context {
	return context.WithValue(ctx, servingKey{}, fn)
}

// Serve serves gRPC and HTTP until ctx is done or a server fails, then shuts down gracefully:
// readiness and health go to not serving, in-flight RPCs drain (cut off at SHUTDOWN_TIMEOUT),
// the OnShutdown hooks run in reverse order, the HTTP server stops and telemetry is flushed.
// It returns nil after a clean shutdown.
func (s *Service) Serve(ctx context.Context) error {
	if s.started.Swap(true) {
		return errors.New("service.Serve: already served or closed")
	}
	errc := make(chan error, 2)
	go func() { errc <- s.grpc.Serve(s.grpcLis) }()
	go func() {
		if err := s.httpSrv.Serve(s.httpLis); !errors.Is(err, http.ErrServerClosed) {
			errc <- err
		}
	}()
	for name := range s.grpc.GetServiceInfo() {
		s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.serving.Store(true)
	s.log.InfoContext(ctx, "serving", "grpc", s.GRPCAddr(), "http", s.HTTPAddr())
	if fn, ok := ctx.Value(servingKey{}).(func(string, string)); ok {
		fn(s.GRPCAddr(), s.HTTPAddr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case err := <-errc:
		serveErr = fmt.Errorf("service.Serve: %w", err)
		s.log.ErrorContext(ctx, "server failed; shutting down", "err", err)
	}
	return errors.Join(serveErr, s.shutdown())
}

// shutdown stops everything within cfg.ShutdownTimeout and reports what did not stop cleanly.
func (s *Service) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout.String())
	s.draining.Store(true)
	s.serving.Store(false)
	s.health.Shutdown()
	s.stop()

	var problems []error
	stopped := make(chan struct{})
	go func() { s.grpc.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-ctx.Done():
		// Stop closes every connection and cancels the handlers' contexts. It does not wait
		// for handlers that ignore their context, and neither does shutdown.
		s.grpc.Stop()
		problems = append(problems, fmt.Errorf("in-flight RPCs still running after SHUTDOWN_TIMEOUT %s were cut off", s.cfg.ShutdownTimeout))
	}

	s.mu.Lock()
	hooks := slices.Clone(s.hooks)
	s.mu.Unlock()
	for _, hook := range slices.Backward(hooks) {
		if err := hook(ctx); err != nil {
			problems = append(problems, fmt.Errorf("shutdown hook: %w", err))
		}
	}

	if err := s.httpSrv.Shutdown(ctx); err != nil {
		_ = s.httpSrv.Close()
		problems = append(problems, fmt.Errorf("HTTP server: %w", err))
	}
	if err := s.tel.Shutdown(ctx); err != nil {
		s.log.Warn("telemetry not flushed", "err", err) // losing spans must not fail the service
	}
	if len(problems) > 0 {
		err := fmt.Errorf("service shutdown: %w", errors.Join(problems...))
		s.log.Error("stopped uncleanly", "err", err)
		return err
	}
	s.log.Info("stopped")
	return nil
}

// checkConfig fills cfg's zero fields from their defaults and reports what New cannot start
// with.
func checkConfig(cfg *Config) error {
	if err := LoadConfig(func(string) string { return "" }, cfg); err != nil {
		return err
	}
	var ce ConfigError
	for _, a := range []struct{ name, addr string }{{"GRPC_ADDR", cfg.GRPCAddr}, {"HTTP_ADDR", cfg.HTTPAddr}} {
		if a.addr == "" {
			ce.add(a.name, "required but not set")
		} else if p := checkAddr(a.addr); p != "" {
			ce.add(a.name, "%s", p)
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		ce.add("LOG_LEVEL", "%q is not debug, info, warn or error", cfg.LogLevel)
	}
	if cfg.ShutdownTimeout <= 0 {
		ce.add("SHUTDOWN_TIMEOUT", "%s is not positive", cfg.ShutdownTimeout)
	}
	if len(ce.Problems) > 0 {
		return &ce
	}
	return nil
}
