package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/natsauth"
)

// ConnectNATS connects to url as name, authenticated as the mesh expects (docs/governance.md):
// with sa.NATSToken if set, else with the service account sa's access tokens (fetched from
// identity, renewed before they expire, asked again at every reconnect), else with whatever
// url itself carries (testinfra's test user). streams are the streams the process provisions
// and manages; the callout grants those in the process's domain. The connection reconnects
// for ever; close it at shutdown.
func ConnectNATS(ctx context.Context, url, name string, sa ServiceAccount, streams []string, opts ...nats.Option) (*nats.Conn, error) {
	cred := natsauth.Credentials{Streams: streams, Log: slog.Default()}
	closeIdentity := func() {}
	switch {
	case sa.NATSToken != "":
		id, _, ok := strings.Cut(sa.NATSToken, ":")
		if !ok {
			return nil, &ConfigError{Problems: []ConfigProblem{{Var: "NATS_TOKEN", Problem: "is not <client id>:<password>"}}}
		}
		cred.Subject = id
		cred.Token = func() (string, error) { return sa.NATSToken, nil }
	case sa.ClientID != "" && sa.ClientSecret != "":
		conn, err := Dial(ctx, sa.IdentityAddr)
		if err != nil {
			return nil, fmt.Errorf("nats: identity %s: %w", sa.IdentityAddr, err)
		}
		closeIdentity = func() { _ = conn.Close() }
		ts := auth.ClientCredentials(conn, sa.ClientID, sa.ClientSecret)
		cred.Subject = sa.ClientID
		cred.Token = func() (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return ts.Token(ctx)
		}
	}
	all := []nats.Option{nats.Name(name), nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false)}
	if cred.Token != nil {
		all = append(all, cred.Options()...)
	}
	all = append(all, nats.ClosedHandler(func(*nats.Conn) { closeIdentity() }))
	nc, err := connectRetrying(ctx, url, append(all, opts...))
	if err != nil {
		closeIdentity()
		return nil, fmt.Errorf("nats %s: %w", Redact(url), err)
	}
	return nc, nil
}

// connectRetrying connects, retrying authorisation failures for a while: at a mesh's first
// start identity may not serve its key set yet, so the callout cannot check a token.
func connectRetrying(ctx context.Context, url string, opts []nats.Option) (*nats.Conn, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		nc, err := nats.Connect(url, opts...)
		if err == nil || !errors.Is(err, nats.ErrAuthorization) || time.Now().After(deadline) {
			return nc, err
		}
		select {
		case <-ctx.Done():
			return nil, errors.Join(err, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// Redact returns the NATS URL(s) u with any password replaced, for messages and logs.
func Redact(u string) string {
	parts := strings.Split(u, ",")
	for i, p := range parts {
		if pu, err := url.Parse(p); err == nil && pu.User != nil {
			if _, has := pu.User.Password(); has {
				pu.User = url.UserPassword(pu.User.Username(), "xxxxx")
				parts[i] = pu.String()
			}
		}
	}
	return strings.Join(parts, ",")
}
