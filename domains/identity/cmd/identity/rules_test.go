package main

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/rpc"
)

// caller kinds of the rules table.
const (
	anonymous  = "anonymous"
	admin      = "admin"
	dispatcher = "dispatcher"
	engineer   = "engineer"
	analyst    = "analyst"
	svc        = "service"
	enrolment  = "enrolment" // signed in, TOTP not enrolled yet
)

var kinds = []string{anonymous, admin, dispatcher, engineer, analyst, svc, enrolment}

// expect says which callers may make a call and what a valid call then answers (OK, or
// FailedPrecondition where the handler refuses a kind of account). Everyone else gets
// PermissionDenied, and anonymous callers of a non-public RPC Unauthenticated.
type expect map[string]codes.Code

func only(ks ...string) expect {
	e := expect{}
	for _, k := range ks {
		e[k] = codes.OK
	}
	return e
}

var (
	everyone      = only(kinds...)
	fullSessions  = only(admin, dispatcher, engineer, analyst, svc)
	people        = expect{admin: codes.OK, dispatcher: codes.OK, engineer: codes.OK, analyst: codes.OK, enrolment: codes.OK, svc: codes.FailedPrecondition}
	peopleAndSvcs = only(admin, dispatcher, engineer, analyst, svc, enrolment)
)

// rulesFixture holds what the valid requests need.
type rulesFixture struct {
	m        *identityUnderTest
	callers  map[string]*person
	loginAs  *person // a person who signs in with a password only (enrolment session)
	chain    *person // whose refresh token each Refresh call spends
	sa       *identityv1.CreateServiceAccountResponse
	subjects []string // throwaway users to change
}

func (f *rulesFixture) throwaway(t *testing.T) string {
	t.Helper()
	return f.m.created(t, "target", identityv1.Role_ROLE_ANALYST).id
}

// calls makes one valid request of each RPC as caller k.
var calls = map[string]func(t *testing.T, f *rulesFixture, k string, c identityv1.IdentityServiceClient) error{
	"Login": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.Login(f.m.ctx, &identityv1.LoginRequest{Email: f.loginAs.email, Password: f.loginAs.password})
		return err
	},
	"Refresh": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		resp, err := c.Refresh(f.m.ctx, &identityv1.RefreshRequest{RefreshToken: f.chain.refresh})
		if err == nil {
			f.chain.use(f.m, resp.GetTokens())
		}
		return err
	},
	"Logout": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.Logout(f.m.ctx, &identityv1.LogoutRequest{RefreshToken: "mwrt_not-a-session"})
		return err
	},
	"IssueServiceToken": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.IssueServiceToken(f.m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: f.sa.GetClientId(), ClientSecret: f.sa.GetClientSecret()})
		return err
	},
	"GetJWKS": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.GetJWKS(f.m.ctx, &identityv1.GetJWKSRequest{})
		return err
	},
	"RotateSigningKey": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.RotateSigningKey(f.m.ctx, &identityv1.RotateSigningKeyRequest{})
		return err
	},
	"BeginTotpEnrollment": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.BeginTotpEnrollment(f.m.ctx, &identityv1.BeginTotpEnrollmentRequest{})
		return err
	},
	"ConfirmTotpEnrollment": func(t *testing.T, f *rulesFixture, k string, c identityv1.IdentityServiceClient) error {
		begin, err := c.BeginTotpEnrollment(f.m.ctx, &identityv1.BeginTotpEnrollmentRequest{})
		code := "123456"
		if p := f.callers[k]; err == nil && p != nil {
			p.secret = secretOf(t, begin.GetOtpauthUri())
			code = p.code(t)
		}
		_, err = c.ConfirmTotpEnrollment(f.m.ctx, &identityv1.ConfirmTotpEnrollmentRequest{Code: code})
		return err
	},
	"CreateUser": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.CreateUser(f.m.ctx, &identityv1.CreateUserRequest{Email: email("created"), DisplayName: "New", Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER}})
		return err
	},
	"GetMe": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.GetMe(f.m.ctx, &identityv1.GetMeRequest{})
		return err
	},
	"UpdateMe": func(t *testing.T, f *rulesFixture, k string, c identityv1.IdentityServiceClient) error {
		_, err := c.UpdateMe(f.m.ctx, &identityv1.UpdateMeRequest{DisplayName: "Renamed " + k})
		return err
	},
	"ChangePassword": func(t *testing.T, f *rulesFixture, k string, c identityv1.IdentityServiceClient) error {
		p := f.callers[k]
		current := "not the password of anyone"
		if p != nil && p.password != "" {
			current = p.password
		}
		next := "another long passphrase " + k + time.Now().String()
		_, err := c.ChangePassword(f.m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: current, NewPassword: next})
		if err == nil {
			p.password = next
			f.m.remember(next)
		}
		return err
	},
	"GetUser": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.GetUser(f.m.ctx, &identityv1.GetUserRequest{Id: f.loginAs.id})
		return err
	},
	"ListUsers": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.ListUsers(f.m.ctx, &identityv1.ListUsersRequest{PageSize: 5})
		return err
	},
	"SetUserRoles": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.SetUserRoles(f.m.ctx, &identityv1.SetUserRolesRequest{Id: f.throwaway(t), Roles: []identityv1.Role{identityv1.Role_ROLE_DISPATCHER}})
		return err
	},
	"DeactivateUser": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.DeactivateUser(f.m.ctx, &identityv1.DeactivateUserRequest{Id: f.throwaway(t)})
		return err
	},
	"CreateServiceAccount": func(t *testing.T, f *rulesFixture, k string, c identityv1.IdentityServiceClient) error {
		resp, err := c.CreateServiceAccount(f.m.ctx, &identityv1.CreateServiceAccountRequest{Name: "svc-by-" + k})
		f.m.remember(resp.GetClientSecret())
		return err
	},
	"GrantScopes": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.GrantScopes(f.m.ctx, &identityv1.GrantScopesRequest{SubjectId: f.loginAs.id, Application: "quality",
			Scopes: []string{"quality:read"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
		return err
	},
	"RevokeGrant": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		g, err := f.m.admin.api(t, f.m).GrantScopes(f.m.ctx, &identityv1.GrantScopesRequest{SubjectId: f.loginAs.id,
			Application: "files", Scopes: []string{"files:read"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
		if err != nil {
			t.Fatalf("set-up grant: %v", err)
		}
		_, err = c.RevokeGrant(f.m.ctx, &identityv1.RevokeGrantRequest{Id: g.GetGrant().GetId()})
		return err
	},
	"ListGrants": func(t *testing.T, f *rulesFixture, _ string, c identityv1.IdentityServiceClient) error {
		_, err := c.ListGrants(f.m.ctx, &identityv1.ListGrantsRequest{})
		return err
	},
}

// table is who may call each RPC. It is written out, not derived from rpc.Rules, so that a
// wrong rule fails the test. RotateSigningKey comes last: tokens signed by a new key are not
// needed afterwards.
var table = []struct {
	method string
	who    expect
}{
	{"Login", everyone}, {"Refresh", everyone}, {"Logout", everyone}, {"IssueServiceToken", everyone}, {"GetJWKS", everyone},
	{"BeginTotpEnrollment", people}, {"ConfirmTotpEnrollment", people},
	{"CreateUser", only(admin)},
	{"GetMe", peopleAndSvcs}, {"UpdateMe", fullSessions}, {"ChangePassword", people},
	{"GetUser", only(admin, dispatcher)}, {"ListUsers", only(admin, dispatcher)},
	{"SetUserRoles", only(admin)}, {"DeactivateUser", only(admin)},
	{"CreateServiceAccount", only(admin)},
	{"GrantScopes", only(admin)}, {"RevokeGrant", only(admin)}, {"ListGrants", fullSessions},
	{"RotateSigningKey", only(admin)},
}

// TestEveryRPCForEveryRole calls every IdentityService RPC as every kind of caller: allowed
// (a valid request succeeds), denied (PermissionDenied) and unauthenticated.
func TestEveryRPCForEveryRole(t *testing.T) {
	m := start(t)
	methods := identityv1.File_mesh_identity_v1_identity_proto.Services().ByName("IdentityService").Methods()
	var inTable []string
	for _, row := range table {
		inTable = append(inTable, row.method)
	}
	for i := range methods.Len() {
		name := string(methods.Get(i).Name())
		full := "/mesh.identity.v1.IdentityService/" + name
		if _, ok := rpc.Rules[full]; !ok {
			t.Errorf("rpc.Rules has no rule for %s", name)
		}
		if !slices.Contains(inTable, name) || calls[name] == nil {
			t.Errorf("the table does not cover %s", name)
		}
	}
	if len(rpc.Rules) != methods.Len() || len(table) != methods.Len() {
		t.Fatalf("%d rules, %d table rows, %d methods", len(rpc.Rules), len(table), methods.Len())
	}

	f := &rulesFixture{m: m, callers: map[string]*person{admin: m.admin}}
	for k, role := range map[string]identityv1.Role{dispatcher: identityv1.Role_ROLE_DISPATCHER,
		engineer: identityv1.Role_ROLE_ENGINEER, analyst: identityv1.Role_ROLE_ANALYST} {
		f.callers[k] = m.person(t, k, role)
	}
	f.callers[svc], f.sa = m.serviceAccount(t, "rules-robot")
	f.callers[enrolment] = m.enrolling(t, m.created(t, "enrolling", identityv1.Role_ROLE_ENGINEER))
	f.loginAs = m.created(t, "password-only", identityv1.Role_ROLE_ANALYST)
	f.chain = m.person(t, "refresher", identityv1.Role_ROLE_ANALYST)
	clients := map[string]identityv1.IdentityServiceClient{anonymous: m.anon}
	for k, p := range f.callers {
		clients[k] = p.api(t, m)
	}

	for _, row := range table {
		for _, k := range kinds {
			want, allowed := row.who[k]
			switch {
			case allowed:
			case k == anonymous:
				want = codes.Unauthenticated
			default:
				want = codes.PermissionDenied
			}
			t.Run(row.method+"/"+k, func(t *testing.T) {
				err := calls[row.method](t, f, k, clients[k])
				if got := status.Code(err); got != want {
					t.Fatalf("%s as %s: %v (%v), want %v", row.method, k, got, err, want)
				}
			})
		}
	}
}
