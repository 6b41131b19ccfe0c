package catalogclient_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"meshwork.dev/platform/catalogclient"
)

func TestKeepRetriesUntilRegistered(t *testing.T) {
	t.Parallel()
	// Identity not up yet (the token is refused), then the catalog restarting, then OK.
	s := &script{answers: []error{status.Error(codes.Unauthenticated, "no token yet"), status.Error(codes.Internal, "boom")}}
	conn := serve(t, s)
	var logs bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	catalogclient.KeepEvery(ctx, slog.New(slog.NewTextHandler(&logs, nil)), conn, time.Millisecond, product("a"))
	if got := len(s.calls()); got != 3 {
		t.Errorf("%d registration calls, want 3 (two failures, then success)", got)
	}
	if !strings.Contains(logs.String(), "registered data products") {
		t.Errorf("no success logged:\n%s", logs.String())
	}
}

func TestKeepStopsWhenRefused(t *testing.T) {
	t.Parallel()
	s := &script{answers: []error{status.Error(codes.FailedPrecondition, "breaking change"), nil}}
	conn := serve(t, s)
	var logs bytes.Buffer
	catalogclient.KeepEvery(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), conn, time.Millisecond, product("a"))
	if got := len(s.calls()); got != 1 {
		t.Errorf("%d registration calls after a refusal, want 1", got)
	}
	if !strings.Contains(logs.String(), "refused") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
}
