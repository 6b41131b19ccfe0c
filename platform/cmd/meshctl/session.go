package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/meshctl/credstore"
	"meshwork.dev/platform/meshctl/rpcerr"
)

// identityTimeout bounds one identity command.
const identityTimeout = 30 * time.Second

// minTokenLife is how long an access token must still be valid for meshctl to use it as it is;
// one that expires sooner is refreshed first.
const minTokenLife = 30 * time.Second

// errNotLoggedIn is what every command that needs a session says without one.
var errNotLoggedIn = errors.New("not logged in: run meshctl login")

// store opens the credentials file.
func (a *app) store() (*credstore.Store, error) {
	path := a.credPath
	if path == "" {
		var err error
		if path, err = credstore.DefaultPath(); err != nil {
			return nil, fmt.Errorf("%w (set MESHCTL_CREDENTIALS to a file path)", err)
		}
	}
	return credstore.Open(path), nil
}

// dialIdentity connects to identity at --identity, sending token with every call when it is
// not empty. The connection is lazy; close it when done.
func (a *app) dialIdentity(token string) (identityv1.IdentityServiceClient, func(), error) {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(staticBearer(token)))
	}
	conn, err := grpc.NewClient(a.g.identity, opts...)
	if err != nil {
		return nil, nil, usagef("--identity %q: %v", a.g.identity, err)
	}
	return identityv1.NewIdentityServiceClient(conn), func() { _ = conn.Close() }, nil
}

// session returns the saved session for --identity with an access token valid for at least
// minTokenLife, refreshing (and saving) it first when needed.
func (a *app) session(ctx context.Context) (credstore.Session, error) {
	store, err := a.store()
	if err != nil {
		return credstore.Session{}, err
	}
	sess, err := store.Fresh(ctx, a.g.identity, a.now(), minTokenLife, a.refresh)
	switch {
	case errors.Is(err, credstore.ErrNotLoggedIn):
		return sess, errNotLoggedIn
	case errors.Is(err, credstore.ErrSessionExpired):
		return sess, errors.New("session expired: run meshctl login")
	case status.Code(err) == codes.Unauthenticated:
		return sess, fmt.Errorf("session ended (%s): run meshctl login", rpcerr.Describe(err))
	case err != nil:
		return sess, a.identityErr("refresh", err)
	}
	return sess, nil
}

// refresh exchanges a refresh token for new tokens.
func (a *app) refresh(ctx context.Context, refreshToken string) (credstore.Session, error) {
	client, done, err := a.dialIdentity("")
	if err != nil {
		return credstore.Session{}, err
	}
	defer done()
	resp, err := client.Refresh(ctx, &identityv1.RefreshRequest{RefreshToken: refreshToken})
	if err != nil {
		return credstore.Session{}, err
	}
	return sessionOf("", resp.GetTokens()), nil
}

// sessionOf turns identity's tokens into a session to save.
func sessionOf(email string, t *identityv1.Tokens) credstore.Session {
	return credstore.Session{Email: email,
		AccessToken: t.GetAccessToken(), AccessTokenExpiresAt: t.GetAccessTokenExpiresAt().AsTime(),
		RefreshToken: t.GetRefreshToken(), RefreshTokenExpiresAt: t.GetRefreshTokenExpiresAt().AsTime()}
}

// bearer is the token an authenticated command sends: --token (or MESHCTL_TOKEN) when set,
// otherwise the saved session's access token.
func (a *app) bearer(ctx context.Context) (string, error) {
	if a.g.token != "" {
		return a.g.token, nil
	}
	sess, err := a.session(ctx)
	return sess.AccessToken, err
}

// optionalBearer is bearer for calls that work without a token (the catalog's reads): it is
// "" when there is no --token and no usable saved session.
func (a *app) optionalBearer(ctx context.Context) string {
	tok, err := a.bearer(ctx)
	if err != nil {
		return ""
	}
	return tok
}

// authedIdentity connects to identity with the bearer token.
func (a *app) authedIdentity(ctx context.Context) (identityv1.IdentityServiceClient, func(), error) {
	tok, err := a.bearer(ctx)
	if err != nil {
		return nil, nil, err
	}
	return a.dialIdentity(tok)
}

// identityErr renders a failed identity call on one line, with a hint for the usual causes.
func (a *app) identityErr(op string, err error) error {
	werr := rpcerr.Wrap(op, err)
	switch status.Code(err) {
	case codes.Unavailable:
		return fmt.Errorf("%w (is identity running at %s? set --identity or IDENTITY_ADDR)", werr, a.g.identity)
	case codes.Unauthenticated:
		if strings.HasPrefix(op, "login") {
			return werr // the login itself was refused
		}
		return fmt.Errorf("%w (run meshctl login)", werr)
	}
	return werr
}

// staticBearer sends one token as "authorization: Bearer" with every call.
type staticBearer string

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b staticBearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: the mesh runs plain
// gRPC on loopback in development.
func (staticBearer) RequireTransportSecurity() bool { return false }
