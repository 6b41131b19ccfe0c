package service

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"meshwork.dev/platform/auth"
)

// ServiceAccount is the configuration of a service that calls other services' APIs (the
// catalog's RegisterProduct, another domain's RPCs) with its own service account's tokens.
// Embed it beside Config:
//
//	var cfg struct {
//		service.Config
//		service.ServiceAccount
//	}
//
// `meshctl up` creates one account per service and sets SERVICE_CLIENT_ID and
// SERVICE_CLIENT_SECRET; see docs/platform.md, "Service accounts".
type ServiceAccount struct {
	// IdentityAddr is identity's gRPC address, where the tokens are issued.
	IdentityAddr string `env:"IDENTITY_ADDR" default:"127.0.0.1:7001"`
	// ClientID is the account's client id; empty means the service has no account.
	ClientID string `env:"SERVICE_CLIENT_ID"`
	// ClientSecret is the account's secret.
	ClientSecret string `env:"SERVICE_CLIENT_SECRET"`
	// NATSToken, when set, is a fixed NATS credential used instead of the account's tokens:
	// identity's svc-identity:<password> (identity issues the tokens, so it cannot present one
	// before its key set is served). See ConnectNATS.
	NATSToken string `env:"NATS_TOKEN"`
}

// Credentials returns a dial option for Dial that sends the service account's access token
// with every call: auth.ClientCredentials against identity at sa.IdentityAddr, cached and
// renewed before it expires. The connection to identity closes at shutdown.
//
// Without a client id (a mesh run without identity) the option sends no token, and a warning
// says so once; servers that require a token then answer Unauthenticated. A client id without
// a secret, or a secret without a client id, is a *ConfigError.
func (s *Service) Credentials(ctx context.Context, sa ServiceAccount) (grpc.DialOption, error) {
	var ce ConfigError
	switch {
	case sa.ClientID == "" && sa.ClientSecret == "":
		s.log.WarnContext(ctx, "no service account (SERVICE_CLIENT_ID is not set): calls to other services carry no token")
		return grpc.EmptyDialOption{}, nil
	case sa.ClientSecret == "":
		ce.add("SERVICE_CLIENT_SECRET", "required with SERVICE_CLIENT_ID")
	case sa.ClientID == "":
		ce.add("SERVICE_CLIENT_ID", "required with SERVICE_CLIENT_SECRET")
	}
	if sa.IdentityAddr == "" {
		ce.add("IDENTITY_ADDR", "required with a service account")
	}
	if len(ce.Problems) > 0 {
		return nil, &ce
	}
	conn, err := Dial(ctx, sa.IdentityAddr)
	if err != nil {
		return nil, fmt.Errorf("service.Credentials: %w", err)
	}
	s.OnShutdown(func(context.Context) error { return conn.Close() })
	ts := auth.ClientCredentials(conn, sa.ClientID, sa.ClientSecret)
	return grpc.WithPerRPCCredentials(auth.BearerToken(ts.Token)), nil
}
