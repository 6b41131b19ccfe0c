package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/catalog/catalogtest"
)

// TestAccessServiceEveryRPCEveryCaller calls every AccessService RPC, through gRPC, as every
// kind of caller: anonymous callers get Unauthenticated, the callers the table allows get past
// authorisation (a real answer), every other caller PermissionDenied naming the field. A method
// missing from the table fails the test. Decide and revoke act on fresh requests of ana's.
func TestAccessServiceEveryRPCEveryCaller(t *testing.T) {
	c := start(t)
	ctx := c.ctx
	c.register(t, catalogtest.Descriptor("quality.summaries.v1", catalogtest.BaseFields...))
	tokens := map[string]string{
		"anonymous":                "",
		"requester":                c.iss.Token(t, "u-ana", []string{"analyst"}, nil),
		"another domain's owner":   c.iss.Token(t, "u-lars", []string{"engineer"}, []string{"lab:owner"}),
		"product's owner":          c.iss.Token(t, "u-olga", []string{"engineer"}, []string{"quality:owner"}),
		"another domain's service": c.iss.Token(t, "svc-scheduling", []string{"service"}, nil),
		"admin":                    c.iss.Token(t, "u-admin", []string{"admin"}, nil),
	}
	clients := map[string]platformv1.AccessServiceClient{}
	for who, tok := range tokens {
		if tok == "" {
			conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = conn.Close() })
			clients[who] = platformv1.NewAccessServiceClient(conn)
			continue
		}
		clients[who] = c.accessClient(t, tok)
	}
	ana, admin := clients["requester"], clients["admin"]
	pending := func() string {
		r, err := ana.RequestAccess(ctx, &platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "weekly report"})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetRequest().GetId()
	}
	granted := func() string {
		id := pending()
		if _, err := admin.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: id, Approve: true}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	signedIn := []string{"requester", "another domain's owner", "product's owner", "another domain's service", "admin"}
	table := map[string]struct {
		allowed []string
		call    func(platformv1.AccessServiceClient) error
	}{
		"RequestAccess": {signedIn, func(cl platformv1.AccessServiceClient) error {
			_, err := cl.RequestAccess(ctx, &platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "a report",
				ExpiresAt: timestamppb.New(time.Now().Add(24 * time.Hour))})
			return err
		}},
		"ListAccessRequests": {signedIn, func(cl platformv1.AccessServiceClient) error {
			_, err := cl.ListAccessRequests(ctx, &platformv1.ListAccessRequestsRequest{})
			return err
		}},
		"DecideAccessRequest": {[]string{"product's owner", "admin"}, func(cl platformv1.AccessServiceClient) error {
			_, err := cl.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: pending(), Approve: true})
			return err
		}},
		// The holder may give a grant up.
		"RevokeGrant": {[]string{"requester", "product's owner", "admin"}, func(cl platformv1.AccessServiceClient) error {
			_, err := cl.RevokeGrant(ctx, &platformv1.RevokeGrantRequest{Id: granted(), Reason: "done"})
			return err
		}},
		"ListAudit": {[]string{"admin"}, func(cl platformv1.AccessServiceClient) error {
			_, err := cl.ListAudit(ctx, &platformv1.ListAuditRequest{Limit: 5})
			return err
		}},
	}
	for _, m := range platformv1.AccessService_ServiceDesc.Methods {
		e, ok := table[m.MethodName]
		if !ok {
			t.Errorf("%s is missing from the table", m.MethodName)
			continue
		}
		for who, cl := range clients {
			err := e.call(cl)
			got, _ := code(err)
			allowed := strings.Contains("|"+strings.Join(e.allowed, "|")+"|", "|"+who+"|")
			switch {
			case who == "anonymous" && got != codes.Unauthenticated:
				t.Errorf("%s anonymous: %v, want Unauthenticated", m.MethodName, err)
			case who != "anonymous" && allowed && err != nil:
				t.Errorf("%s as %s: %v, want allowed", m.MethodName, who, err)
			case who != "anonymous" && !allowed && got != codes.PermissionDenied:
				t.Errorf("%s as %s: %v, want PermissionDenied", m.MethodName, who, err)
			}
		}
	}

	// Bad input beyond RequestAccess's (TestAccessFlow): each names its field.
	for name, tt := range map[string]struct {
		call  func() error
		field string
	}{
		"decide without id": {func() error {
			_, err := admin.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Approve: true})
			return err
		}, "id"},
		"revoke without id": {func() error {
			_, err := admin.RevokeGrant(ctx, &platformv1.RevokeGrantRequest{})
			return err
		}, "id"},
		"audit until before since": {func() error {
			_, err := admin.ListAudit(ctx, &platformv1.ListAuditRequest{Since: timestamppb.Now(), Until: timestamppb.New(time.Now().Add(-time.Hour))})
			return err
		}, "until"},
		"audit negative limit": {func() error {
			_, err := admin.ListAudit(ctx, &platformv1.ListAuditRequest{Limit: -1})
			return err
		}, "limit"},
		"expiry beyond a year": {func() error {
			_, err := ana.RequestAccess(ctx, &platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "x",
				ExpiresAt: timestamppb.New(time.Now().Add(400 * 24 * time.Hour))})
			return err
		}, "expires_at"},
	} {
		err := tt.call()
		if got, _ := code(err); got != codes.InvalidArgument || badRequest(err)[tt.field] == "" {
			t.Errorf("%s: %v, want InvalidArgument on %s", name, err, tt.field)
		}
	}
	// Deciding twice, or revoking what is not a grant, is a precondition, not a crash.
	id := granted()
	if _, err := admin.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: id, Approve: false}); func() codes.Code { c, _ := code(err); return c }() != codes.FailedPrecondition {
		t.Errorf("deciding a decided request: %v, want FailedPrecondition", err)
	}
	if _, err := admin.RevokeGrant(ctx, &platformv1.RevokeGrantRequest{Id: pending()}); func() codes.Code { c, _ := code(err); return c }() != codes.FailedPrecondition {
		t.Errorf("revoking a pending request: %v, want FailedPrecondition", err)
	}
	if _, err := admin.RevokeGrant(ctx, &platformv1.RevokeGrantRequest{Id: "no-such-request"}); func() codes.Code { c, _ := code(err); return c }() != codes.NotFound &&
		func() codes.Code { c, _ := code(err); return c }() != codes.InvalidArgument {
		t.Errorf("revoking an unknown id: %v, want NotFound or InvalidArgument", err)
	}
}
