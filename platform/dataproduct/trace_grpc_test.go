package dataproduct_test

import (
	"context"
	"io"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/service"
)

// publishingService publishes one event per UnaryCall, inside the call's server span.
type publishingService struct {
	testpb.UnimplementedTestServiceServer
	pub *dataproduct.Publisher
}

func (s *publishingService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if _, err := s.pub.Publish(ctx, "k1", wrapperspb.String(string(req.GetPayload().GetBody()))); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{}, nil
}

// TestTraceFromGRPCCallToConsumer follows one trace from a client span, through a gRPC call
// served by platform/service whose handler publishes an event, to the consumer's handler.
// Not parallel: service.New installs the process-wide tracer provider and propagator.
func TestTraceFromGRPCCallToConsumer(t *testing.T) {
	e := setup(t)
	cfg := service.Defaults("127.0.0.1:0", "127.0.0.1:0")
	cfg.NATSURL = e.nats.URL
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	rules := auth.Rules{testpb.TestService_UnaryCall_FullMethodName: auth.Public()}
	svc, err := service.New(ctx, "tracedemo", cfg, service.WithAuthRules(rules), service.WithLogOutput(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := dataproduct.NewPublisher(e.js, e.p)
	if err != nil {
		t.Fatal(err)
	}
	testpb.RegisterTestServiceServer(svc.GRPC(), &publishingService{pub: pub})
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx) }()

	consumed := make(chan trace.SpanContext, 1)
	sub, err := dataproduct.Subscribe(ctx, e.js, e.p, dataproduct.ConsumerConfig{ConsumerDomain: "tracer"},
		func(ctx context.Context, ev *dataproduct.Event) error {
			consumed <- trace.SpanContextFromContext(ctx)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Stop(context.Background()) }()

	conn, err := service.Dial(ctx, svc.GRPCAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	callCtx, span := otel.Tracer("test-client").Start(ctx, "client-call")
	if _, err := testpb.NewTestServiceClient(conn).UnaryCall(callCtx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte("hello")}}); err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	span.End()
	want := span.SpanContext().TraceID()

	select {
	case got := <-consumed:
		if !got.IsValid() || got.TraceID() != want {
			t.Errorf("consumer trace id = %s, want the client's %s", got.TraceID(), want)
		}
		if got.SpanID() == span.SpanContext().SpanID() {
			t.Errorf("consumer span is the client span itself; want a descendant")
		}
	case <-ctx.Done():
		t.Fatal("event not consumed")
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
