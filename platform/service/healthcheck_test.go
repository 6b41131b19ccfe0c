package service_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"

	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	ns := testinfra.StartNATS(t)
	addrs := make(chan [2]string, 1)
	ctx, cancel := context.WithCancel(service.NotifyServing(t.Context(), func(g, h string) { addrs <- [2]string{g, h} }))
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- demoRun(ctx, env(map[string]string{"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "NATS_URL": ns.URL}), io.Discard)
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("run ended before serving: %v", err)
	}
	_, port, _ := net.SplitHostPort(a[1])

	check := func(httpAddr string) (int, string) {
		var stderr bytes.Buffer
		code := service.Healthcheck(t.Context(), env(map[string]string{"HTTP_ADDR": httpAddr}), &stderr)
		return code, stderr.String()
	}
	if code, msg := check(":" + port); code != 0 {
		t.Errorf("healthcheck of a ready service (HTTP_ADDR :%s) = %d %q, want 0", port, code, msg)
	}
	if code, msg := check("bad"); code != 2 || !strings.Contains(msg, "HTTP_ADDR") {
		t.Errorf("healthcheck with a malformed HTTP_ADDR = %d %q, want 2 naming HTTP_ADDR", code, msg)
	}
	ns.Server.Shutdown() // the demo's NATS readiness check now fails
	ns.Server.WaitForShutdown()
	if code, msg := check(a[1]); code != 1 || !strings.Contains(msg, "503") {
		t.Errorf("healthcheck of a not-ready service = %d %q, want 1 with the 503", code, msg)
	}
	cancel()
	<-done
	if code, _ := check(a[1]); code != 1 {
		t.Errorf("healthcheck of a stopped service = %d, want 1", code)
	}
}
