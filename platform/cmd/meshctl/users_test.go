package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
)

// The fake's users and grants.
var (
	ada = &identityv1.User{Id: "u-1", Email: "ada@example.com", DisplayName: "Ada Lovelace", Roles: []identityv1.Role{identityv1.Role_ROLE_ADMIN},
		Active: true, TotpEnrolled: true, CreatedAt: timestamppb.New(fixedNow.Add(-time.Hour)), UpdatedAt: timestamppb.New(fixedNow.Add(-time.Hour))}
	bob   = &identityv1.User{Id: "u-2", Email: "bob@example.com", DisplayName: "Bob", Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER, identityv1.Role_ROLE_ANALYST}}
	grant = &identityv1.Grant{Id: "g-1", SubjectId: "u-2", Application: "quality", Scopes: []string{"quality:read", "quality:write"},
		ExpiresAt: timestamppb.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)), GrantedBy: "u-1", CreatedAt: timestamppb.New(fixedNow)}
)

// lookup returns the fake's user id, or an error as identity would give it.
func lookup(id string) (*identityv1.User, error) {
	switch id {
	case "u-1":
		return ada, nil
	case "u-2":
		return bob, nil
	case "forbidden":
		return nil, status.Error(codes.PermissionDenied, "admin role required")
	case "bad":
		st, _ := status.New(codes.InvalidArgument, "invalid request").WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "id", Description: "must be a UUID"}}})
		return nil, st.Err()
	}
	return nil, status.Errorf(codes.NotFound, "user %q not found", id)
}

// ListUsers returns ada, then bob on a second page.
func (f *fakeIdentity) ListUsers(_ context.Context, req *identityv1.ListUsersRequest) (*identityv1.ListUsersResponse, error) {
	if req.GetPageToken() == "" {
		return &identityv1.ListUsersResponse{Users: []*identityv1.User{ada}, NextPageToken: "p2"}, nil
	}
	return &identityv1.ListUsersResponse{Users: []*identityv1.User{bob}}, nil
}

func (f *fakeIdentity) GetUser(_ context.Context, req *identityv1.GetUserRequest) (*identityv1.GetUserResponse, error) {
	u, err := lookup(req.GetId())
	return &identityv1.GetUserResponse{User: u}, err
}

func (f *fakeIdentity) CreateUser(_ context.Context, req *identityv1.CreateUserRequest) (*identityv1.CreateUserResponse, error) {
	u := &identityv1.User{Id: "u-3", Email: req.GetEmail(), DisplayName: req.GetDisplayName(), Roles: req.GetRoles(), Active: true}
	return &identityv1.CreateUserResponse{User: u, OneTimePassword: "otp-123"}, nil
}

func (f *fakeIdentity) SetUserRoles(_ context.Context, req *identityv1.SetUserRolesRequest) (*identityv1.SetUserRolesResponse, error) {
	u, err := lookup(req.GetId())
	if err != nil {
		return nil, err
	}
	u = proto.CloneOf(u)
	u.Roles = req.GetRoles()
	return &identityv1.SetUserRolesResponse{User: u}, nil
}

func (f *fakeIdentity) DeactivateUser(_ context.Context, req *identityv1.DeactivateUserRequest) (*identityv1.DeactivateUserResponse, error) {
	u, err := lookup(req.GetId())
	return &identityv1.DeactivateUserResponse{User: u}, err
}

func (f *fakeIdentity) GetMe(context.Context, *identityv1.GetMeRequest) (*identityv1.GetMeResponse, error) {
	return &identityv1.GetMeResponse{User: ada, Scopes: []string{"quality:read"}}, nil
}

func (f *fakeIdentity) ListGrants(context.Context, *identityv1.ListGrantsRequest) (*identityv1.ListGrantsResponse, error) {
	revoked := proto.CloneOf(grant)
	revoked.Id, revoked.RevokedAt = "g-0", timestamppb.New(fixedNow)
	return &identityv1.ListGrantsResponse{Grants: []*identityv1.Grant{grant, revoked}}, nil
}

func (f *fakeIdentity) GrantScopes(_ context.Context, req *identityv1.GrantScopesRequest) (*identityv1.GrantScopesResponse, error) {
	g := proto.CloneOf(grant)
	g.SubjectId, g.Application, g.Scopes, g.ExpiresAt = req.GetSubjectId(), req.GetApplication(), req.GetScopes(), req.GetExpiresAt()
	return &identityv1.GrantScopesResponse{Grant: g}, nil
}

func (f *fakeIdentity) RevokeGrant(context.Context, *identityv1.RevokeGrantRequest) (*identityv1.RevokeGrantResponse, error) {
	g := proto.CloneOf(grant)
	g.RevokedAt = timestamppb.New(fixedNow)
	return &identityv1.RevokeGrantResponse{Grant: g}, nil
}

func (f *fakeIdentity) CreateServiceAccount(_ context.Context, req *identityv1.CreateServiceAccountRequest) (*identityv1.CreateServiceAccountResponse, error) {
	return &identityv1.CreateServiceAccountResponse{Account: &identityv1.User{Id: "sa-9", ServiceAccount: true},
		ClientId: "svc-" + req.GetName(), ClientSecret: "s3cret"}, nil
}

// withoutKey returns a copy of m without its idempotency_key field, and the key: "" when m has
// no such field, "-" when the field is empty.
func withoutKey(m proto.Message) (proto.Message, string) {
	m = proto.Clone(m)
	fd := m.ProtoReflect().Descriptor().Fields().ByName("idempotency_key")
	if fd == nil {
		return m, ""
	}
	key := m.ProtoReflect().Get(fd).String()
	m.ProtoReflect().Clear(fd)
	if key == "" {
		key = "-"
	}
	return m, key
}

// TestAdminCommands runs each users, grants and service-accounts command against the fake:
// the request it sends (with the session's token), and what it prints.
func TestAdminCommands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		req    proto.Message // the last request; idempotency keys are checked apart
		stdout []string      // lines (or parts) stdout must hold
	}{
		{[]string{"users", "ls", "--role", "engineer", "--all"},
			&identityv1.ListUsersRequest{Role: identityv1.Role_ROLE_ENGINEER, IncludeInactive: true, PageSize: pageSize, PageToken: "p2"},
			[]string{"ID   EMAIL            NAME          ROLES              ACTIVE  TOTP", "u-1  ada@example.com  Ada Lovelace  admin              yes     yes",
				"u-2  bob@example.com  Bob           engineer, analyst  no      no"}},
		{[]string{"users", "get", "u-1"}, &identityv1.GetUserRequest{Id: "u-1"},
			[]string{"email    ada@example.com\n", "roles    admin\n", "totp     enrolled\n", "kind     user\n", "created  2026-03-04T04:06:07Z (1h ago)\n"}},
		{[]string{"users", "create", "--email", "cy@example.com", "--name", "Cy", "--role", "engineer", "--role", "analyst,dispatcher"},
			&identityv1.CreateUserRequest{Email: "cy@example.com", DisplayName: "Cy",
				Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER, identityv1.Role_ROLE_ANALYST, identityv1.Role_ROLE_DISPATCHER}},
			[]string{"id                 u-3\n", "roles              engineer, analyst, dispatcher\n", "one-time password  otp-123  (shown once: hand it over)\n"}},
		{[]string{"users", "roles", "u-2", "--role", "dispatcher"}, &identityv1.SetUserRolesRequest{Id: "u-2", Roles: []identityv1.Role{identityv1.Role_ROLE_DISPATCHER}},
			[]string{"roles    dispatcher\n"}},
		{[]string{"users", "deactivate", "u-2"}, &identityv1.DeactivateUserRequest{Id: "u-2"}, []string{"active   no\n"}},
		{[]string{"users", "me"}, &identityv1.GetMeRequest{}, []string{"email    ada@example.com\n", "scopes   quality:read\n"}},
		{[]string{"grants", "ls", "--subject", "u-2"}, &identityv1.ListGrantsRequest{SubjectId: "u-2", PageSize: pageSize},
			[]string{"ID   SUBJECT  APPLICATION  SCOPES                      EXPIRES               STATUS", "g-1  u-2      quality      quality:read,quality:write  2027-01-01T00:00:00Z  active",
				"g-0  u-2      quality      quality:read,quality:write  2027-01-01T00:00:00Z  revoked"}},
		{[]string{"grants", "add", "--subject", "u-2", "--app", "quality", "--scope", "quality:read", "--scope", "quality:write", "--until", "2027-01-01"},
			&identityv1.GrantScopesRequest{SubjectId: "u-2", Application: "quality", Scopes: []string{"quality:read", "quality:write"},
				ExpiresAt: timestamppb.New(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))},
			[]string{"scopes       quality:read, quality:write\n", "status       active\n"}},
		{[]string{"grants", "add", "--subject", "u-2", "--app", "quality", "--scope", "quality:read", "--for", "30d"},
			&identityv1.GrantScopesRequest{SubjectId: "u-2", Application: "quality", Scopes: []string{"quality:read"},
				ExpiresAt: timestamppb.New(fixedNow.Add(30 * 24 * time.Hour))},
			[]string{"expires      2026-04-03T05:06:07Z\n"}},
		{[]string{"grants", "revoke", "g-1"}, &identityv1.RevokeGrantRequest{Id: "g-1"}, []string{"status       revoked\n"}},
		{[]string{"service-accounts", "create", "--name", "quality"}, &identityv1.CreateServiceAccountRequest{Name: "quality"},
			[]string{"client id      svc-quality\n", "client secret  s3cret  (shown once)\n"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			c, f := newCLI(t)
			c.login()
			r := c.run("", tt.args...)
			r.wantCode(t, 0)
			req, bearer := f.last()
			if bearer != "Bearer access-1" {
				t.Errorf("authorization %q, want the session's token", bearer)
			}
			got, key := withoutKey(req)
			if !proto.Equal(got, tt.req) {
				t.Errorf("request %v, want %v", got, tt.req)
			}
			if key == "-" {
				t.Error("no idempotency key")
			}
			for _, want := range tt.stdout {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

func TestAdminCommandsJSON(t *testing.T) {
	t.Parallel()
	c, _ := newCLI(t)
	c.login()
	r := c.run("", "users", "ls", "-o", "json")
	r.wantCode(t, 0)
	var users []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &users); err != nil || len(users) != 2 || users[1]["email"] != "bob@example.com" {
		t.Errorf("users ls -o json = %s (%v)", r.stdout, err)
	}
	r = c.run("", "users", "create", "--email", "cy@example.com", "--name", "Cy", "--role", "analyst", "-o", "json")
	var created identityv1.CreateUserResponse
	if err := unmarshalProtoJSON(r.stdout, &created); err != nil || created.GetOneTimePassword() != "otp-123" {
		t.Errorf("users create -o json = %s (%v)", r.stdout, err)
	}
	r = c.run("", "grants", "ls", "-o", "json")
	if !strings.Contains(r.stdout, `"revokedAt": "2026-03-04T05:06:07Z"`) {
		t.Errorf("grants ls -o json = %s", r.stdout)
	}
}

// TestAdminCommandErrors renders refused calls and command-line mistakes on one line.
func TestAdminCommandErrors(t *testing.T) {
	t.Parallel()
	c, _ := newCLI(t)
	c.login()
	tests := []struct {
		args []string
		code int
		line string
	}{
		{[]string{"users", "get", "forbidden"}, 1, "meshctl: users get forbidden: permission denied: admin role required\n"},
		{[]string{"users", "get", "nobody"}, 1, "meshctl: users get nobody: not found: user \"nobody\" not found\n"},
		{[]string{"users", "roles", "bad", "--role", "admin"}, 1, "meshctl: users roles bad: invalid argument: invalid request [id: must be a UUID]\n"},
		{[]string{"users", "me", "--token", "bogus"}, 1, "meshctl: users me: unauthenticated: missing or invalid token (run meshctl login)\n"},
		{[]string{"users", "create", "--email", "a@b", "--name", "A"}, 2, "meshctl: users create: --email, --name and --role are required\n"},
		{[]string{"users", "create", "--email", "a@b", "--name", "A", "--role", "boss"}, 2, "meshctl: users create: --role: role \"boss\": want admin, dispatcher, engineer, analyst or service\n"},
		{[]string{"users", "get"}, 2, "meshctl: users get: want one user id, got 0 arguments\n"},
		{[]string{"users", "ls", "extra"}, 2, "meshctl: users ls: unexpected arguments [\"extra\"]\n"},
		{[]string{"users", "rm"}, 2, "meshctl: unknown command \"users rm\" (run 'meshctl users help')\n"},
		{[]string{"grants", "add", "--subject", "u", "--app", "a", "--scope", "a:r"}, 2, "meshctl: grants add: give one of --until and --for\n"},
		{[]string{"grants", "add", "--subject", "u", "--app", "a", "--scope", "a:r", "--until", "2020-01-01"}, 2, "meshctl: grants add: the expiry 2020-01-01T00:00:00Z has passed\n"},
		{[]string{"grants", "add", "--subject", "u", "--app", "a", "--scope", "a:r", "--for", "soon"}, 2, "meshctl: grants add: --for \"soon\": want a positive duration like 720h or 30d\n"},
		{[]string{"service-accounts", "create"}, 2, "meshctl: service-accounts create: --name is required\n"},
		{[]string{"service-accounts", "delete"}, 2, "meshctl: unknown command \"service-accounts delete\" (run 'meshctl service-accounts help')\n"},
	}
	for _, tt := range tests {
		r := c.run("", tt.args...)
		if r.code != tt.code || r.stderr != tt.line {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tt.args, r.code, r.stderr, tt.code, tt.line)
		}
	}
	c.addr = closedAddr(t)
	r := c.run("", "users", "me", "--token", "tok-flag")
	r.wantCode(t, 1)
	r.wantErrLine(t, "meshctl: users me: unavailable: ", "(is identity running at "+c.addr+"? set --identity or IDENTITY_ADDR)")
}
