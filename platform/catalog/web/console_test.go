package web_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/web"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/service"
)

// get fetches path from the console and returns the status and body.
func (e *env) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.server.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestPagesAnswerBadInputWithTheField(t *testing.T) {
	e := newEnv(t, web.Config{})
	readings, _, _ := products()
	e.register(t, readings)
	for _, tc := range []struct {
		path, field string
		code        int
	}{
		{"/?page=0", "page", http.StatusBadRequest},
		{"/?classification=secret", "classification", http.StatusBadRequest},
		{"/lineage/lab.readings.v1?depth=-1", "depth", http.StatusBadRequest},
		{"/lineage/lab.readings.v1?depth=two", "depth", http.StatusBadRequest},
		{"/products/lab.readings.v1/events/stream?subject=a.*", "subject", http.StatusBadRequest},
		{"/products/lab.readings.v1/events/stream?since=soon", "since", http.StatusBadRequest},
		{"/products/nope.nothing.v1", "nope.nothing.v1", http.StatusNotFound},
		{"/access", "not configured", http.StatusServiceUnavailable},
	} {
		code, body := e.get(t, tc.path)
		if code != tc.code || !strings.Contains(body, tc.field) {
			t.Errorf("GET %s: %d %q, want %d naming %s", tc.path, code, excerpt(body), tc.code, tc.field)
		}
	}
}

func excerpt(s string) string {
	if i := strings.Index(s, `role="alert"`); i >= 0 {
		s = s[i:]
	}
	return s[:min(len(s), 160)]
}

func TestProductPageShowsRevisionsAndExport(t *testing.T) {
	e := newEnv(t, web.Config{})
	d := catalogtest.Descriptor("lab.readings.v1", catalogtest.BaseFields...)
	e.register(t, d)
	d2 := catalogtest.Descriptor("lab.readings.v1", append(catalogtest.BaseFields, catalogtest.Field{Name: "note", Number: 4, Type: catalogtest.String})...)
	e.register(t, d2)
	e.register(t, catalogtest.Descriptor("lab.readings.v2", catalogtest.BaseFields...))
	e.publish(t, d2, "m-1", payload(t, d2, map[string]any{"machine_id": "m-1", "value": 1.5}))

	code, body := e.get(t, "/products/lab.readings.v1")
	for _, want := range []string{"field added: note string", "first registration", `href="/products/lab.readings.v2"`, `<svg class="chart"`, "1 events in the last 3h0m0s"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("product page (%d) lacks %q", code, want)
		}
	}
	code, body = e.get(t, "/products/lab.readings.v1/odcs.yaml")
	if code != http.StatusOK || !strings.Contains(body, "apiVersion: v3.1.0") || !strings.Contains(body, "lab.readings.v1") {
		t.Errorf("ODCS export: %d %q", code, excerpt(body))
	}
	code, body = e.get(t, "/products/lab.readings.v1/odps.yaml")
	if code != http.StatusOK || !strings.Contains(body, "apiVersion: v1.0.0") || !strings.Contains(body, "contractId: lab.readings.v1") {
		t.Errorf("ODPS export: %d %q", code, excerpt(body))
	}
	code, body = e.get(t, "/products/lab.readings.v1/chart.svg")
	if code != http.StatusOK || strings.Count(body, `class="bar"`) != 36 {
		t.Errorf("chart: %d %q", code, excerpt(body))
	}
}

func TestEventsStreamReplaysDecodedAndRedacted(t *testing.T) {
	e := newEnv(t, web.Config{})
	readings, _, _ := products()
	e.register(t, readings)
	e.publish(t, readings, "m-1", payload(t, readings, map[string]any{"machine_id": "m-1", "value": 2.5, "operator_email": "op@example.com"}))
	e.publish(t, readings, "m-2", payload(t, readings, map[string]any{"machine_id": "m-2", "value": 3.5, "operator_email": "op@example.com"}))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	since := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.server.URL+"/products/lab.readings.v1/events/stream?subject=m-2&since="+since, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	sc := bufio.NewScanner(resp.Body)
	var data string
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = d
			break
		}
	}
	if data == "" {
		t.Fatalf("no event before the stream ended: %v", errors.Join(sc.Err(), ctx.Err()))
	}
	for _, want := range []string{`"subject":"m-2"`, `"machine_id":"m-2"`, `"value":3.5`, `"redacted":["operator_email"]`, `"source":"/domains/lab"`} {
		if !strings.Contains(data, want) {
			t.Errorf("event %s lacks %s", data, want)
		}
	}
	if strings.Contains(data, "op@example.com") {
		t.Errorf("PII shown without a grant: %s", data)
	}
}

func TestHealthShowsServicesStreamsAndDeadLetters(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc, err := service.New(ctx, "probe-me", service.Config{GRPCAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", LogLevel: "error"})
	if err != nil {
		t.Fatal(err)
	}
	svc.Ready("store", func(context.Context) error { return errors.New("store is down") })
	addr := svc.HTTPAddr()
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	e := newEnv(t, web.Config{Services: []web.Endpoint{{Name: "probe-me", URL: "http://" + addr}, {Name: "gone", URL: "http://127.0.0.1:1"}}})
	readings, _, _ := products()
	e.register(t, readings)
	e.publish(t, readings, "m-1", payload(t, readings, map[string]any{"machine_id": "m-1"}))
	// The shared dead-letter stream as dataproduct.Provision creates it, with one poison message.
	if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: dataproduct.DeadLetterStream, Subjects: []string{dataproduct.DeadLetterPrefix + ">"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.js.PublishMsg(ctx, natsMsg(dataproduct.DeadLetterPrefix+"care.lab.readings.v1", []byte("poison"))); err != nil {
		t.Fatal(err)
	}
	code, body := e.get(t, "/health")
	for _, want := range []string{`data-service="probe-me"`, "store: store is down", "not ready", "unreachable", `href="/products/lab.readings.v1"`,
		"1 message(s) in DEADLETTER", "<td>dlq.care.lab.readings.v1</td><td>1</td>"} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("health page (%d) lacks %q", code, want)
		}
	}
}
