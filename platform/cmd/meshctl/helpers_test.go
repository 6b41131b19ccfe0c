package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// waitLimit keeps a broken test from hanging; no test asserts on durations.
const waitLimit = 30 * time.Second

// fixedNow is the clock of tests that render ages.
var fixedNow = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// result is what one meshctl invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// meshctl runs a command line through run, as the binary would, with an empty environment
// for the global defaults and the clock at fixedNow.
func meshctl(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	creds := filepath.Join(t.TempDir(), "credentials.json") // never the user's own
	a := newApp(func(k string) string { return map[string]string{"MESHCTL_CREDENTIALS": creds}[k] }, strings.NewReader(""), &stdout, &stderr)
	a.now = func() time.Time { return fixedNow }
	code := a.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// wantCode fails t unless r exited with code; on failure it shows the output.
func (r result) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// wantErrLine fails t unless stderr is exactly one "meshctl: " line containing each of parts.
func (r result) wantErrLine(t *testing.T, parts ...string) {
	t.Helper()
	if !strings.HasPrefix(r.stderr, "meshctl: ") || strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		t.Errorf("stderr %q is not one line starting with \"meshctl: \"", r.stderr)
	}
	for _, p := range parts {
		if !strings.Contains(r.stderr, p) {
			t.Errorf("stderr %q lacks %q", r.stderr, p)
		}
	}
}

// startCatalog serves srv as the CatalogService on a free loopback port and returns the
// address; the server stops at t's cleanup.
func startCatalog(t *testing.T, srv platformv1.CatalogServiceServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer()
	platformv1.RegisterCatalogServiceServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// unmarshalProtoJSON parses meshctl's -o json output of a catalog response.
func unmarshalProtoJSON(s string, m proto.Message) error {
	return protojson.Unmarshal([]byte(s), m)
}
