package service

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// healthServer is grpc's health server, except that Watch streams end when the service starts
// shutting down: a watcher is told NOT_SERVING and then gets Unavailable. Without this, every
// client watching health (as gRPC clients with health checking do) would hold up the graceful
// drain until SHUTDOWN_TIMEOUT.
type healthServer struct {
	*health.Server
	stopping context.Context
}

// Watch implements healthpb.HealthServer.
func (h healthServer) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	defer context.AfterFunc(h.stopping, cancel)()
	err := h.Server.Watch(req, watchStream{Health_WatchServer: stream, ctx: ctx})
	if h.stopping.Err() == nil || stream.Context().Err() != nil {
		return err
	}
	_ = stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
	return status.Error(codes.Unavailable, "server is shutting down")
}

type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

func (w watchStream) Context() context.Context { return w.ctx }
