package service_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"meshwork.dev/platform/testinfra"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/service"
)

// testService behaves according to the request's payload body, so tests can make a handler
// fail, panic or block.
type testService struct {
	testpb.UnimplementedTestServiceServer
	started chan struct{} // receives when a "slow" call begins
	release chan struct{} // closed to let "slow" calls finish
	once    sync.Once
	mu      sync.Mutex
	done    int // "slow" calls that finished
}

// releaseAll lets every "slow" call finish.
func (s *testService) releaseAll() { s.once.Do(func() { close(s.release) }) }

func newTestService() *testService {
	return &testService{started: make(chan struct{}, 10), release: make(chan struct{})}
}

func (s *testService) finished() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

func (s *testService) EmptyCall(ctx context.Context, _ *testpb.Empty) (*testpb.Empty, error) {
	_ = grpc.SetHeader(ctx, metadata.Pairs("trace-id", trace.SpanContextFromContext(ctx).TraceID().String()))
	return &testpb.Empty{}, nil
}

func (s *testService) UnaryCall(ctx context.Context, req *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := command(req.GetPayload().GetBody()); err != nil {
		return nil, err
	}
	if string(req.GetPayload().GetBody()) == "slow" {
		s.started <- struct{}{}
		<-s.release
		s.mu.Lock()
		s.done++
		s.mu.Unlock()
	}
	return &testpb.SimpleResponse{Username: "ok"}, nil
}

func (s *testService) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, ss grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if err := command(req.GetPayload().GetBody()); err != nil {
		return err
	}
	return ss.Send(&testpb.StreamingOutputCallResponse{})
}

func (s *testService) StreamingInputCall(ss grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	c, _ := auth.FromContext(ss.Context())
	return ss.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(len(c.Subject))})
}

// command returns the error (or panics) a request body asks for.
func command(body []byte) error {
	switch string(body) {
	case "invalid":
		return errs.BadRequest("rpc.UnaryCall",
			errs.Violation{Field: "payload.body", Description: "must be a known command"},
			errs.Violation{Field: "response_size", Description: "must be positive"})
	case "notfound":
		return errs.Wrap("rpc.UnaryCall", errs.E("store.Machine", errs.NotFound, "machine m-1"))
	case "internal":
		return fmt.Errorf("store.Machine: %w", io.ErrUnexpectedEOF)
	case "status":
		return status.Error(codes.Aborted, "aborted by test")
	case "wrapped-status":
		return fmt.Errorf("calling logistics: %w", status.Error(codes.NotFound, "no route"))
	case "canceled":
		return fmt.Errorf("query: %w", context.Canceled)
	case "panic":
		panic("boom")
	}
	return nil
}

var testRules = auth.Rules{
	testpb.TestService_EmptyCall_FullMethodName:           auth.Public(),
	testpb.TestService_UnaryCall_FullMethodName:           auth.Public(),
	testpb.TestService_StreamingOutputCall_FullMethodName: auth.Public(),
	testpb.TestService_StreamingInputCall_FullMethodName:  auth.AnyRole("admin"),
}

// harness is a served Service with a client.
type harness struct {
	svc    *service.Service
	impl   *testService
	conn   *grpc.ClientConn
	iss    *authtest.Issuer
	logs   *testinfra.Output
	cancel context.CancelFunc
	served chan error
}

type harnessOptions struct {
	noRules         bool
	shutdownTimeout string
	setup           func(*service.Service)
}

// start serves the test service on 127.0.0.1:0. Unless the test stops it itself, cleanup
// stops it and requires a clean shutdown.
func start(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	iss := authtest.NewIssuer(t)
	var cfg service.Config
	getenv := env(map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "JWKS_URL": iss.JWKSURL(),
		"SHUTDOWN_TIMEOUT": o.shutdownTimeout, "LOG_LEVEL": "debug",
	})
	if err := service.LoadConfig(getenv, &cfg); err != nil {
		t.Fatal(err)
	}
	h := &harness{impl: newTestService(), iss: iss, logs: &testinfra.Output{}, served: make(chan error, 1)}
	opts := []service.Option{service.WithLogOutput(h.logs), service.WithVersion("test")}
	if !o.noRules {
		opts = append(opts, service.WithAuthRules(testRules))
	}
	svc, err := service.New(t.Context(), "demo", cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	h.svc = svc
	testpb.RegisterTestServiceServer(svc.GRPC(), h.impl)
	if o.setup != nil {
		o.setup(svc)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	serving := make(chan struct{})
	go func() {
		h.served <- svc.Serve(service.NotifyServing(ctx, func(string, string) { close(serving) }))
	}()
	select {
	case <-serving:
	case err := <-h.served:
		t.Fatalf("Serve returned before serving: %v", err)
	}
	t.Cleanup(func() {
		h.impl.releaseAll()
		if h.cancel != nil {
			h.cancel()
			if err := <-h.served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	})
	h.conn, err = grpc.NewClient(svc.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.conn.Close() })
	return h
}

// stop cancels Serve and returns its result; cleanup then does not stop it again.
func (h *harness) stop() error {
	h.cancel()
	h.cancel = nil
	return <-h.served
}

func (h *harness) client() testpb.TestServiceClient { return testpb.NewTestServiceClient(h.conn) }

// get fetches path from the service's HTTP server.
func (h *harness) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + h.svc.HTTPAddr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func unary(ctx context.Context, c testpb.TestServiceClient, body string) error {
	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{Payload: &testpb.Payload{Body: []byte(body)}})
	return err
}

var errNoMessage = errors.New("stream ended without a message")

func streamOut(ctx context.Context, c testpb.TestServiceClient, body string) error {
	s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte(body)}})
	if err != nil {
		return err
	}
	if _, err := s.Recv(); err != nil {
		if errors.Is(err, io.EOF) {
			return errNoMessage
		}
		return err
	}
	return nil
}
