package auth

import (
	"context"

	"google.golang.org/grpc/credentials"

	"meshwork.dev/platform/errs"
)

// BearerToken returns per-RPC credentials that send "authorization: Bearer <token>" with every
// call, asking source for the token each time (so it can cache and renew a service-account
// token). Use it with grpc.WithPerRPCCredentials.
//
// The credentials do not require transport security, because the mesh runs over loopback and
// plain connections in development; production deployments put TLS underneath.
func BearerToken(source func(ctx context.Context) (string, error)) credentials.PerRPCCredentials {
	return bearerToken(source)
}

type bearerToken func(ctx context.Context) (string, error)

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b bearerToken) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := b(ctx)
	if err != nil {
		return nil, errs.Wrap("auth.BearerToken", err)
	}
	if tok == "" {
		return nil, errs.E("auth.BearerToken", errs.Unauthenticated, "token source returned an empty token")
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials; see BearerToken.
func (bearerToken) RequireTransportSecurity() bool { return false }
