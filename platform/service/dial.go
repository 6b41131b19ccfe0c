package service

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Dial returns a client connection to target (host:port, or any gRPC target) that carries
// trace context and records client metrics through the process's telemetry (set up by New).
// The connection is plain-text for now and connects lazily, so the target need not be up yet;
// ctx only cancels the call itself. opts come after the defaults and can override them, e.g.
// grpc.WithPerRPCCredentials(auth.BearerToken(...)).
func Dial(ctx context.Context, target string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("service.Dial %s: %w", target, err)
	}
	all := append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler()),
	}, opts...)
	conn, err := grpc.NewClient(target, all...)
	if err != nil {
		return nil, fmt.Errorf("service.Dial %s: %w", target, err)
	}
	return conn, nil
}
