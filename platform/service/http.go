package service

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"
)

// readyTimeout bounds all readiness checks of one /readyz request together.
const readyTimeout = 2 * time.Second

type readyCheck struct {
	name  string
	check func(context.Context) error
}

// readiness is the /readyz body.
type readiness struct {
	Status string                 `json:"status"` // "ready", "not ready", "starting" or "shutting down"
	Checks map[string]checkResult `json:"checks"`
}

type checkResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// serveHealthz reports that the process is alive.
func (s *Service) serveHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// serveReadyz runs every readiness check concurrently and answers 200 only when the service is
// serving and all of them pass within readyTimeout.
func (s *Service) serveReadyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := slices.Clone(s.checks)
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()

	body := readiness{Status: "ready", Checks: make(map[string]checkResult, len(checks))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, c := range checks {
		wg.Go(func() {
			res := checkResult{OK: true}
			if err := c.check(ctx); err != nil {
				res = checkResult{Error: err.Error()}
			}
			mu.Lock()
			body.Checks[c.name] = res
			if !res.OK {
				body.Status = "not ready"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if !s.serving.Load() {
		body.Status = "starting"
		if s.draining.Load() {
			body.Status = "shutting down"
		}
	}
	code := http.StatusOK
	if body.Status != "ready" {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
