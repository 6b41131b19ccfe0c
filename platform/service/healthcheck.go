package service

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HealthcheckArg is the argument that makes Main probe a running instance instead of starting
// one: `quality healthcheck` exits 0 when the instance at HTTP_ADDR answers /readyz with 200.
// Container health checks use it, since the images carry no shell or curl.
const HealthcheckArg = "healthcheck"

// Healthcheck asks the instance listening on HTTP_ADDR (from getenv) whether it is ready and
// returns the process exit status: 0 ready, 1 not ready or unreachable, 2 no usable HTTP_ADDR.
func Healthcheck(ctx context.Context, getenv func(string) string, stderr io.Writer) int {
	addr := getenv("HTTP_ADDR")
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		fmt.Fprintf(stderr, "healthcheck: HTTP_ADDR %q is not host:port\n", addr)
		return 2
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
