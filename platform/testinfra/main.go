package testinfra

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// mainActive is set by Main; shared servers refuse to start without it.
var mainActive atomic.Bool

// shared holds the stop functions of servers that live as long as the test binary.
var shared struct {
	mu    sync.Mutex
	stops []func() error
	done  bool
}

// Main is called from TestMain: it runs the tests, stops the shared servers, and exits with
// m.Run's code (or 1 if a shared server failed to stop).
func Main(m *testing.M) {
	mainActive.Store(true)
	code := m.Run()
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "testinfra:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// addShared registers stop to run when Main finishes. It reports false when Main has already
// stopped the shared servers, in which case the caller must stop its server itself.
func addShared(stop func() error) bool {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.done {
		return false
	}
	shared.stops = append(shared.stops, stop)
	return true
}

// stopShared stops the shared servers in reverse start order and returns the first error.
func stopShared() error {
	shared.mu.Lock()
	stops := shared.stops
	shared.stops, shared.done = nil, true
	shared.mu.Unlock()
	var first error
	for i := len(stops) - 1; i >= 0; i-- {
		if err := stops[i](); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// requireMain fails t when the test binary does not run testinfra.Main.
func requireMain(t testing.TB, what string) {
	t.Helper()
	if err := checkMain(mainActive.Load(), what); err != nil {
		t.Fatal(err)
	}
}

// checkMain explains how to fix a test binary that does not run Main.
func checkMain(active bool, what string) error {
	if active {
		return nil
	}
	return fmt.Errorf("testinfra.%s needs testinfra.Main: add `func TestMain(m *testing.M) { testinfra.Main(m) }` to this package's tests, so the shared server is stopped when the tests end", what)
}
