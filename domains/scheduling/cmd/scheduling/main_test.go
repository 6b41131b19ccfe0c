package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

const waitLimit = 60 * time.Second

// fakeETA is what the fake logistics answers for every pair of points south of 60°; a point
// north of it is outside the fake's service area.
const fakeETA = 23 * time.Minute

type fakeLogistics struct {
	logisticsv1.UnimplementedLogisticsServiceServer
}

func (fakeLogistics) GetTravelMatrix(_ context.Context, r *logisticsv1.GetTravelMatrixRequest) (*logisticsv1.GetTravelMatrixResponse, error) {
	out := &logisticsv1.GetTravelMatrixResponse{DepartAt: r.GetDepartAt()}
	for _, o := range r.GetOrigins() {
		for _, d := range r.GetDestinations() {
			e := &logisticsv1.TravelMatrixEntry{Status: logisticsv1.TravelStatus_TRAVEL_STATUS_OK, Eta: durationpb.New(fakeETA)}
			if o.GetLat() > 60 || d.GetLat() > 60 {
				e = &logisticsv1.TravelMatrixEntry{Status: logisticsv1.TravelStatus_TRAVEL_STATUS_OUTSIDE_AREA}
			}
			out.Entries = append(out.Entries, e)
		}
	}
	return out, nil
}

// fakeFiles knows one file, "file-123", and only for callers with a bearer token.
type fakeFiles struct {
	filesv1.UnimplementedFilesServiceServer
}

func (fakeFiles) GetFile(ctx context.Context, r *filesv1.GetFileRequest) (*filesv1.GetFileResponse, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("authorization")) == 0 {
		return nil, status.Error(codes.Unauthenticated, "no token forwarded")
	}
	if r.GetFileId() != "file-123" {
		return nil, status.Error(codes.NotFound, "no file "+r.GetFileId())
	}
	return &filesv1.GetFileResponse{File: &filesv1.File{}}, nil
}

type underTest struct {
	ctx    context.Context
	http   string // the HTTP address: probes and /metrics
	client schedulingv1.SchedulingServiceClient
	iss    *authtest.Issuer
	js     jetstream.JetStream
}

func start(t *testing.T) *underTest {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fake := grpc.NewServer()
	logisticsv1.RegisterLogisticsServiceServer(fake, fakeLogistics{})
	filesv1.RegisterFilesServiceServer(fake, fakeFiles{})
	go func() { _ = fake.Serve(lis) }()
	t.Cleanup(fake.Stop)

	pg := testinfra.StartPostgres(t)
	n := testinfra.StartNATS(t)
	iss := authtest.NewIssuer(t)
	env := map[string]string{
		"GRPC_ADDR": "127.0.0.1:0", "HTTP_ADDR": "127.0.0.1:0", "LOG_LEVEL": "error",
		"DATABASE_URL": pg.URL, "NATS_URL": n.URL, "CATALOG_ADDR": "127.0.0.1:1", "JWKS_URL": iss.JWKSURL(),
		"LOGISTICS_ADDR": lis.Addr().String(), "FILES_ADDR": lis.Addr().String(), "MACHINE_LOCATIONS": "press-1=52.2,5.2,high",
	}
	tctx, tcancel := context.WithTimeout(context.Background(), 5*waitLimit)
	t.Cleanup(tcancel)
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(service.NotifyServing(ctx, func(g, h string) { addrs <- [2]string{g, h} }), func(k string) string { return env[k] })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after shutdown: %v", err)
		}
	})
	var addr [2]string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(waitLimit):
		t.Fatal("scheduling did not start")
	}
	conn, err := grpc.NewClient(addr[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &underTest{ctx: tctx, http: addr[1], client: schedulingv1.NewSchedulingServiceClient(conn), iss: iss, js: n.JetStream(t)}
}

// as returns a context carrying a token of the role for subject role+"-1" ("" for none).
func (u *underTest) as(t *testing.T, role string) context.Context {
	t.Helper()
	if role == "" {
		return u.ctx
	}
	tok := u.iss.Token(t, role+"-1", []string{role}, nil)
	return metadata.AppendToOutgoingContext(u.ctx, "authorization", "Bearer "+tok)
}

// engineer registers engineer id through identity.users.v1, waits for scheduling to know them,
// and gives them skills, a home and a shift every day, round the clock, as dispatcher disp.
func (u *underTest) engineer(t *testing.T, disp context.Context, id, name string, home *schedulingv1.LatLng, skills ...string) {
	t.Helper()
	u.publish(t, stream.Users, id, &identityv1.UserChanged{UserId: id, DisplayName: name,
		Kind: identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED, Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER}, Active: true})
	eventually(t, "engineer from identity", func() bool {
		_, err := u.client.GetEngineer(disp, &schedulingv1.GetEngineerRequest{Id: id})
		return err == nil
	})
	var shifts []*schedulingv1.Shift
	for d := range int32(7) {
		shifts = append(shifts, &schedulingv1.Shift{Weekday: d, StartMinute: 0, EndMinute: 1440})
	}
	if _, err := u.client.UpdateEngineer(disp, &schedulingv1.UpdateEngineerRequest{Engineer: &schedulingv1.Engineer{Id: id,
		Skills: skills, HomeBase: home, Shifts: shifts}}); err != nil {
		t.Fatal(err)
	}
}
