// Package telemetry sets up a service's OpenTelemetry traces and metrics and its structured
// logs, the same way in every Meshwork process.
//
// Traces: a TracerProvider that always creates sampled spans with valid ids, so trace context
// flows through gRPC and NATS even when nothing exports it; spans are exported over OTLP/gRPC
// only when an OTLP endpoint is configured (the exporter reads the other standard OTEL_*
// variables itself). Propagation is W3C TraceContext plus Baggage.
//
// Metrics: a MeterProvider whose readings are served in the Prometheus text format from
// MetricsHandler, on a registry of its own (with Go runtime and process collectors).
//
// Logs: slog JSON lines; every record logged with a context inside a span carries that span's
// trace_id and span_id, so a log line leads to its trace.
//
// Setup installs all three as the process-wide defaults (otel globals and slog.Default).
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Config configures Setup. ServiceName is required.
type Config struct {
	// ServiceName is the service.name resource attribute and the "service" field of every log.
	ServiceName string
	// Version is the service.version resource attribute; may be empty.
	Version string
	// LogLevel is debug, info, warn or error (slog's level syntax); empty means info.
	LogLevel string
	// LogOutput receives the JSON log lines; nil means os.Stdout.
	LogOutput io.Writer
	// OTLPEndpoint is the OTLP/gRPC collector URL (OTEL_EXPORTER_OTLP_ENDPOINT, e.g.
	// http://otel-collector:4317); empty means spans are not exported.
	OTLPEndpoint string
}

// Telemetry holds a service's tracer and meter providers and its logger.
type Telemetry struct {
	tracerProvider *sdktrace.TracerProvider
	meterProvider  *sdkmetric.MeterProvider
	propagator     propagation.TextMapPropagator
	registry       *prometheus.Registry
	logger         *slog.Logger
}

// Setup builds the providers and the logger and installs them as process-wide defaults.
// Call Shutdown when the service stops, to flush what is buffered.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	const op = "telemetry.Setup"
	if cfg.ServiceName == "" {
		return nil, fmt.Errorf("%s: ServiceName is required", op)
	}
	var level slog.Level
	if cfg.LogLevel != "" {
		if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
			return nil, fmt.Errorf("%s: log level %q: want debug, info, warn or error", op, cfg.LogLevel)
		}
	}
	out := cfg.LogOutput
	if out == nil {
		out = os.Stdout
	}
	logger := slog.New(traceHandler{slog.NewJSONHandler(out, &slog.HandlerOptions{Level: level})}).
		With("service", cfg.ServiceName)

	attrs := []resource.Option{
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win
	}
	if cfg.Version != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(cfg.Version)))
	}
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("%s: resource: %w", op, err)
	}

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(cfg.OTLPEndpoint))
		if err != nil {
			return nil, fmt.Errorf("%s: OTLP exporter for %s: %w", op, cfg.OTLPEndpoint, err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	promExp, err := otelprom.New(otelprom.WithRegisterer(registry))
	if err != nil {
		_ = tp.Shutdown(ctx)
		return nil, fmt.Errorf("%s: prometheus exporter: %w", op, err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res), sdkmetric.WithReader(promExp))

	t := &Telemetry{
		tracerProvider: tp,
		meterProvider:  mp,
		propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		registry:       registry,
		logger:         logger,
	}
	otel.SetTracerProvider(tp)
	otel.SetMeterProvider(mp)
	otel.SetTextMapPropagator(t.propagator)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("opentelemetry", "err", err)
	}))
	slog.SetDefault(logger)
	return t, nil
}

// Logger returns the service's logger (also slog.Default after Setup).
func (t *Telemetry) Logger() *slog.Logger { return t.logger }

// TracerProvider returns the service's tracer provider.
func (t *Telemetry) TracerProvider() trace.TracerProvider { return t.tracerProvider }

// MeterProvider returns the service's meter provider.
func (t *Telemetry) MeterProvider() metric.MeterProvider { return t.meterProvider }

// Propagator returns the W3C TraceContext and Baggage propagator.
func (t *Telemetry) Propagator() propagation.TextMapPropagator { return t.propagator }

// Registry returns the Prometheus registry behind MetricsHandler, for collectors that are not
// OpenTelemetry instruments (a database pool's stats, say).
func (t *Telemetry) Registry() *prometheus.Registry { return t.registry }

// MetricsHandler serves the metrics in the Prometheus exposition format.
func (t *Telemetry) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// Shutdown exports buffered spans and stops the providers. The logger keeps working.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	err := errors.Join(t.tracerProvider.Shutdown(ctx), t.meterProvider.Shutdown(ctx))
	if err != nil {
		return fmt.Errorf("telemetry.Shutdown: %w", err)
	}
	return nil
}

// traceHandler adds the trace_id and span_id of the record's context to every record.
type traceHandler struct {
	slog.Handler
}

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(attrs)}
}

func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}
