package auth

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/errs"
)

// Renewal timing of a TokenSource.
const (
	// renewFraction is how far into a token's life a TokenSource starts renewing it.
	renewFraction = 0.8
	// maxExpiryMargin is the most time before expiry at which a cached token stops being
	// handed out; short-lived tokens use a tenth of their life instead.
	maxExpiryMargin = 10 * time.Second
	// retryInterval is the least time between two background renewals that fail.
	retryInterval = time.Second
	// issueTimeout bounds one IssueServiceToken call.
	issueTimeout = 10 * time.Second
)

// TokenSource gets and caches a service account's access token through identity's
// client-credentials grant (IssueServiceToken). It is safe for concurrent use.
//
// Token returns the cached token until 80% of its life has passed. From then on the token is
// renewed in the background while the cached one is still handed out, so calls never wait on
// identity while a good token is at hand; a failed renewal is retried at most once a second.
// When there is no usable token (at first, or once it is about to expire) Token waits for a
// fresh one. Concurrent callers share one IssueServiceToken call.
type TokenSource struct {
	client   identityv1.IdentityServiceClient
	clientID string
	secret   string
	now      func() time.Time

	mu         sync.Mutex
	token      string
	renewAt    time.Time     // when a background renewal starts
	validUntil time.Time     // when the cached token stops being handed out
	failedAt   time.Time     // end of the last failed issue
	lastErr    error         // error of the last issue, nil after a success
	inflight   chan struct{} // closed when the running issue ends; nil when none runs
}

// ClientCredentials returns a TokenSource for the service account clientID with its secret,
// calling identity over conn (e.g. from service.Dial(ctx, IDENTITY_ADDR)). It does no I/O.
// Use it with BearerToken:
//
//	ts := auth.ClientCredentials(identityConn, cfg.ClientID, cfg.ClientSecret)
//	conn, err := service.Dial(ctx, target, grpc.WithPerRPCCredentials(auth.BearerToken(ts.Token)))
func ClientCredentials(conn grpc.ClientConnInterface, clientID, secret string) *TokenSource {
	return &TokenSource{client: identityv1.NewIdentityServiceClient(conn), clientID: clientID, secret: secret, now: time.Now}
}

// Token returns a current access token for the service account. Its errors keep the gRPC
// status of a refused grant (Unauthenticated for a wrong secret) in their chain.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	const op = "auth.TokenSource.Token"
	s.mu.Lock()
	now := s.now()
	if s.token != "" && now.Before(s.validUntil) {
		tok := s.token
		if !now.Before(s.renewAt) && now.Sub(s.failedAt) >= retryInterval {
			s.startIssueLocked() // renew in the background; nobody waits for it
		}
		s.mu.Unlock()
		return tok, nil
	}
	ch := s.startIssueLocked()
	s.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return "", &errs.Error{Op: op, Kind: errs.Unavailable, Msg: "waiting for a service token", Err: ctx.Err()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.now().Before(s.validUntil) {
		return s.token, nil
	}
	if s.lastErr != nil {
		return "", errs.Wrap(op, s.lastErr)
	}
	return "", errs.E(op, errs.Unauthenticated, "identity issued no usable token")
}

// startIssueLocked starts an IssueServiceToken call unless one is running, and returns the
// channel closed when it ends. s.mu must be held.
func (s *TokenSource) startIssueLocked() chan struct{} {
	if s.inflight != nil {
		return s.inflight
	}
	ch := make(chan struct{})
	s.inflight = ch
	// The call has its own deadline: one caller giving up must not fail the others waiting.
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), issueTimeout)
		start := s.now()
		resp, err := s.client.IssueServiceToken(ctx, &identityv1.IssueServiceTokenRequest{ClientId: s.clientID, ClientSecret: s.secret})
		cancel()
		s.mu.Lock()
		defer s.mu.Unlock()
		if err == nil {
			err = s.keepLocked(resp, start)
		}
		s.lastErr = err
		if err != nil {
			s.failedAt = s.now()
		}
		s.inflight = nil
		close(ch)
	}()
	return ch
}

// keepLocked caches a token issued at start. s.mu must be held.
func (s *TokenSource) keepLocked(resp *identityv1.IssueServiceTokenResponse, start time.Time) error {
	const op = "auth.ClientCredentials"
	switch {
	case resp.GetAccessToken() == "":
		return errs.E(op, errs.Unavailable, "identity returned an empty access token")
	case resp.GetExpiresAt() == nil:
		return errs.E(op, errs.Unavailable, "identity returned a token without expires_at")
	}
	exp := resp.GetExpiresAt().AsTime()
	life := exp.Sub(start)
	if life <= 0 {
		return errs.Errorf(op, errs.Unavailable, "identity returned a token that expired at %s", exp.Format(time.RFC3339))
	}
	s.token = resp.GetAccessToken()
	s.renewAt = start.Add(time.Duration(float64(life) * renewFraction))
	s.validUntil = exp.Add(-min(maxExpiryMargin, life/10))
	return nil
}
