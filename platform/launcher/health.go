package launcher

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// waitReady polls url (a service's http://HTTP_ADDR/readyz, a NATS node's /healthz), with a
// backoff from 50 ms doubling to 1 s, until it answers 200. It fails when the process p of the
// child name exits (the caller turns that into an *ExitError), when timeout passes or when ctx
// ends.
func waitReady(ctx context.Context, name, url string, p *proc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	wait := 50 * time.Millisecond
	last := "no answer yet"
	for {
		code, err := get(ctx, client, url)
		switch {
		case err == nil && code == http.StatusOK:
			return nil
		case err == nil:
			last = fmt.Sprintf("last answer %d", code)
		default:
			last = err.Error()
		}
		select {
		case <-p.done:
			return fmt.Errorf("launcher: %s exited before it was ready", name)
		case <-ctx.Done():
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("launcher: %s not ready after %s (%s from %s)", name, timeout, last, url)
			}
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// get returns the status code of a GET of url.
func get(ctx context.Context, client *http.Client, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
