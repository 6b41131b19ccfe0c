package service_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"meshwork.dev/platform/service"
)

// TestBackgroundStopsInOrder: at shutdown the BeforeStop hooks run while the background
// context is still live, then it is cancelled, every goroutine is waited for, and their
// errors reach Serve's result.
func TestBackgroundStopsInOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	ticks := make(chan struct{}, 1)
	h := start(t, harnessOptions{setup: func(s *service.Service) {
		bg := s.Background(t.Context())
		bg.Go(func(ctx context.Context) error {
			<-ctx.Done()
			note("worker stopped")
			return errors.New("worker failed")
		})
		bg.Every(time.Millisecond, "tick", func(context.Context) error {
			select {
			case ticks <- struct{}{}:
			default:
			}
			return nil
		})
		bg.BeforeStop(func(context.Context) error {
			if bg.Context().Err() != nil {
				t.Error("BeforeStop ran after the background context was cancelled")
			}
			note("before stop")
			return nil
		})
	}})
	<-ticks
	err := h.stop()
	if err == nil || !strings.Contains(err.Error(), "worker failed") {
		t.Errorf("Serve = %v, want the worker's error", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(order, []string{"before stop", "worker stopped"}) {
		t.Errorf("order %v, want BeforeStop then the worker", order)
	}
}

// TestBackgroundCutOffAtTimeout: a goroutine that ignores its context is reported once
// SHUTDOWN_TIMEOUT passes instead of holding shutdown.
func TestBackgroundCutOffAtTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	h := start(t, harnessOptions{shutdownTimeout: "200ms", setup: func(s *service.Service) {
		s.Background(t.Context()).Go(func(context.Context) error { <-release; return nil })
	}})
	if err := h.stop(); err == nil || !strings.Contains(err.Error(), "background work") {
		t.Errorf("Serve = %v, want background work cut off", err)
	}
}
