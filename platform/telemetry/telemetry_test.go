package telemetry_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"meshwork.dev/platform/telemetry"
)

func setup(t *testing.T, cfg telemetry.Config) *telemetry.Telemetry {
	t.Helper()
	tel, err := telemetry.Setup(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return tel
}

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(b)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestLogsCarryTheSpansTraceID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tel := setup(t, telemetry.Config{ServiceName: "quality", LogOutput: &buf})
	ctx, span := tel.TracerProvider().Tracer("test").Start(t.Context(), "work")
	tel.Logger().InfoContext(ctx, "inside", "machine", "m-1")
	tel.Logger().WithGroup("g").With("k", "v").InfoContext(ctx, "inside a group")
	span.End()
	tel.Logger().InfoContext(t.Context(), "outside")

	lines := logLines(t, &buf)
	if len(lines) != 3 {
		t.Fatalf("got %d log lines, want 3", len(lines))
	}
	sc := span.SpanContext()
	if !sc.IsValid() {
		t.Fatal("span without an exporter has no valid ids; trace context could not propagate")
	}
	in := lines[0]
	if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() {
		t.Errorf("log inside span = %v, want trace_id %s span_id %s", in, sc.TraceID(), sc.SpanID())
	}
	if in["service"] != "quality" || in["msg"] != "inside" || in["machine"] != "m-1" || in["level"] != "INFO" {
		t.Errorf("log line = %v", in)
	}
	if g, _ := lines[1]["g"].(map[string]any); g["trace_id"] != sc.TraceID().String() {
		t.Errorf("grouped logger lost the trace id: %v", lines[1])
	}
	if _, ok := lines[2]["trace_id"]; ok {
		t.Errorf("log outside any span has a trace_id: %v", lines[2])
	}
}

func TestLogLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	tel := setup(t, telemetry.Config{ServiceName: "s", LogLevel: "warn", LogOutput: &buf})
	tel.Logger().Info("dropped")
	tel.Logger().Warn("kept")
	if lines := logLines(t, &buf); len(lines) != 1 || lines[0]["msg"] != "kept" {
		t.Errorf("lines at level warn = %v", lines)
	}
}

func TestSetupRejectsBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []telemetry.Config{
		{ServiceName: "s", LogLevel: "loud"},
		{LogLevel: "info"},
	} {
		if _, err := telemetry.Setup(t.Context(), cfg); err == nil {
			t.Errorf("Setup(%+v) succeeded", cfg)
		}
	}
}

func TestMetricsHandlerServesOtelMetrics(t *testing.T) {
	t.Parallel()
	tel := setup(t, telemetry.Config{ServiceName: "quality", Version: "1.2.3", LogOutput: io.Discard})
	counter, err := tel.MeterProvider().Meter("test").Int64Counter("readings.filtered")
	if err != nil {
		t.Fatal(err)
	}
	counter.Add(t.Context(), 3)

	srv := httptest.NewServer(tel.MetricsHandler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	text := string(body)
	for _, want := range []string{"readings_filtered_total{", `service_name="quality"`, `service_version="1.2.3"`, "go_goroutines"} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "readings_filtered_total{") && !strings.HasSuffix(line, " 3") {
			t.Errorf("counter line %q, want value 3", line)
		}
	}
}

func TestPropagatorCarriesTraceContextAndBaggage(t *testing.T) {
	t.Parallel()
	tel := setup(t, telemetry.Config{ServiceName: "s", LogOutput: io.Discard})
	ctx, span := tel.TracerProvider().Tracer("t").Start(t.Context(), "op")
	defer span.End()
	carrier := propagation.MapCarrier{}
	tel.Propagator().Inject(ctx, carrier)
	if !strings.Contains(carrier.Get("traceparent"), span.SpanContext().TraceID().String()) {
		t.Errorf("traceparent = %q", carrier.Get("traceparent"))
	}
	if f := tel.Propagator().Fields(); !strings.Contains(strings.Join(f, ","), "baggage") {
		t.Errorf("propagator fields %v lack baggage", f)
	}
}

// collector is a minimal OTLP/gRPC trace receiver.
type collector struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
	svc   []string
}

func (c *collector) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.GetKey() == "service.name" {
				c.svc = append(c.svc, a.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.names = append(c.names, s.GetName())
			}
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func TestSpansAreExportedOverOTLPWhenConfigured(t *testing.T) {
	t.Parallel()
	col := &collector{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, col)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	tel, err := telemetry.Setup(t.Context(), telemetry.Config{
		ServiceName: "logistics", LogOutput: io.Discard, OTLPEndpoint: "http://" + lis.Addr().String(),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.TracerProvider().Tracer("t").Start(t.Context(), "plan-route")
	span.End()
	if err := tel.Shutdown(t.Context()); err != nil { // flushes the batch
		t.Fatalf("Shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.names) != 1 || col.names[0] != "plan-route" || len(col.svc) == 0 || col.svc[0] != "logistics" {
		t.Errorf("collector got spans %v from services %v", col.names, col.svc)
	}
}
