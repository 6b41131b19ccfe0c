package rpc

import (
	"context"
	"crypto/rand"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// OneTimePassword returns a random password for an admin to hand over, like
// "7kq2-m9xd-4hwt-pz3c-b8rf": 20 symbols of Crockford base32, 100 bits.
func OneTimePassword() string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	var raw [20]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[r&31])
	}
	return b.String()
}

// idempotency returns the store's idempotency record for a request with key, or nil.
func idempotency(actorID, operation, key string, req proto.Message, clear func(proto.Message), resp proto.Message) (*postgres.Idempotency, error) {
	if key == "" {
		return nil, nil
	}
	if len(key) > 200 {
		return nil, errs.BadRequest("rpc.idempotency", errs.Violation{Field: "idempotency_key", Description: "must be at most 200 characters"})
	}
	raw, err := proto.Marshal(resp)
	if err != nil {
		return nil, errs.Errorf("rpc.idempotency", errs.Internal, "encode response: %w", err)
	}
	return &postgres.Idempotency{ActorID: actorID, Operation: operation, Key: key, RequestHash: requestHash(req, clear), Response: raw}, nil
}

// CreateUser creates a person with roles and a one-time password they must change.
func (h *Handler) CreateUser(ctx context.Context, req *identityv1.CreateUserRequest) (*identityv1.CreateUserResponse, error) {
	const op = "rpc.CreateUser"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	roles, vs := rolesFromProto("roles", req.GetRoles())
	if len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	now := h.d.Now()
	u, err := user.New(uuid.NewString(), req.GetEmail(), req.GetDisplayName(), roles, now)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	otp := OneTimePassword()
	hash, err := h.d.Hasher.Hash(ctx, otp)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	resp := &identityv1.CreateUserResponse{User: userToProto(u), OneTimePassword: otp}
	idem, err := idempotency(actor.ID(), "CreateUser", req.GetIdempotencyKey(), req,
		func(m proto.Message) { m.(*identityv1.CreateUserRequest).IdempotencyKey = "" }, resp)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	e := h.entry(ctx, audit.UserCreated, actor.ID(), u.ID(), now)
	e.Details = map[string]string{"roles": strings.Join(user.RoleNames(u.Roles()), ",")}
	replay, err := h.d.Store.CreateUser(ctx, postgres.NewUser{User: u, PasswordHash: hash, Audit: e, Idempotency: idem})
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if replay != nil {
		resp = &identityv1.CreateUserResponse{}
		if err := proto.Unmarshal(replay, resp); err != nil {
			return nil, errs.Errorf(op, errs.Internal, "decode stored response: %w", err)
		}
		return resp, nil
	}
	audit.Log(ctx, h.d.Log, e)
	return resp, nil
}

// CreateServiceAccount creates a service account and returns its client secret, once.
func (h *Handler) CreateServiceAccount(ctx context.Context, req *identityv1.CreateServiceAccountRequest) (*identityv1.CreateServiceAccountResponse, error) {
	const op = "rpc.CreateServiceAccount"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	now := h.d.Now()
	u, err := user.NewServiceAccount(uuid.NewString(), req.GetName(), now)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	n, resp := NewServiceAccount(u)
	n.Idempotency, err = idempotency(actor.ID(), "CreateServiceAccount", req.GetIdempotencyKey(), req,
		func(m proto.Message) { m.(*identityv1.CreateServiceAccountRequest).IdempotencyKey = "" }, resp)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	n.Audit = h.entry(ctx, audit.ServiceAccountCreated, actor.ID(), u.ID(), now)
	n.Audit.Details = map[string]string{"name": u.Name(), "client_id": n.ClientID}
	replay, err := h.d.Store.CreateServiceAccount(ctx, n)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if replay != nil {
		resp = &identityv1.CreateServiceAccountResponse{}
		if err := proto.Unmarshal(replay, resp); err != nil {
			return nil, errs.Errorf(op, errs.Internal, "decode stored response: %w", err)
		}
		return resp, nil
	}
	audit.Log(ctx, h.d.Log, n.Audit)
	return resp, nil
}

// NewServiceAccount prepares the creation of service account u with fresh client
// credentials and returns it with the response that shows them.
func NewServiceAccount(u *user.User) (postgres.NewUser, *identityv1.CreateServiceAccountResponse) {
	secret, hash := token.NewClientSecret()
	clientID := token.ClientID(u.Name())
	return postgres.NewUser{User: u, ClientID: clientID, SecretHash: hash},
		&identityv1.CreateServiceAccountResponse{Account: userToProto(u), ClientId: clientID, ClientSecret: secret}
}

// GetMe returns the caller and the scopes of their active grants. Enrolment sessions may call
// it.
func (h *Handler) GetMe(ctx context.Context, _ *identityv1.GetMeRequest) (*identityv1.GetMeResponse, error) {
	const op = "rpc.GetMe"
	_, u, err := h.caller(ctx, op, true)
	if err != nil {
		return nil, err
	}
	scopes, err := h.d.Store.ActiveScopes(ctx, u.ID(), h.d.Now())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &identityv1.GetMeResponse{User: userToProto(u), Scopes: scopes}, nil
}

// UpdateMe changes the caller's display name.
func (h *Handler) UpdateMe(ctx context.Context, req *identityv1.UpdateMeRequest) (*identityv1.UpdateMeResponse, error) {
	const op = "rpc.UpdateMe"
	_, me, err := h.caller(ctx, op, false)
	if err != nil {
		return nil, err
	}
	now := h.d.Now()
	e := h.entry(ctx, audit.UserUpdated, me.ID(), me.ID(), now)
	u, err := h.d.Store.Update(ctx, me.ID(), func(u *user.User) error { return u.UpdateProfile(req.GetDisplayName(), now) }, e)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.UpdateMeResponse{User: userToProto(u)}, nil
}

// ChangePassword replaces the caller's password after checking the current one; every
// session of the account is signed out. Enrolment sessions may call it.
func (h *Handler) ChangePassword(ctx context.Context, req *identityv1.ChangePasswordRequest) (*identityv1.ChangePasswordResponse, error) {
	const op = "rpc.ChangePassword"
	_, me, err := h.caller(ctx, op, true)
	if err != nil {
		return nil, err
	}
	if me.ServiceAccount() {
		return nil, errs.E(op, errs.FailedPrecondition, "service accounts have no password; rotate the client secret instead")
	}
	var vs []errs.Violation
	if req.GetCurrentPassword() == "" {
		vs = append(vs, errs.Violation{Field: "current_password", Description: "is required"})
	}
	vs = append(vs, errs.Violations(user.CheckPassword("new_password", req.GetNewPassword(), me.Email()))...)
	if req.GetNewPassword() != "" && req.GetNewPassword() == req.GetCurrentPassword() {
		vs = append(vs, errs.Violation{Field: "new_password", Description: "must differ from the current password"})
	}
	if len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	now, src := h.d.Now(), source(ctx)
	if err := h.d.Throttle.Check(ctx, me.Email(), src, now); err != nil {
		return nil, errs.Wrap(op, err)
	}
	hash, err := h.d.Store.PasswordHash(ctx, me.ID())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	ok, err := h.d.Hasher.Verify(ctx, req.GetCurrentPassword(), hash)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if !ok {
		h.record(ctx, h.entry(ctx, audit.PasswordChangeFailed, me.ID(), me.ID(), now))
		if err := h.d.Throttle.Failed(ctx, me.Email(), src, now); err != nil {
			return nil, errs.Wrap(op, err)
		}
		return nil, errs.BadRequest(op, errs.Violation{Field: "current_password", Description: "is not the current password"})
	}
	newHash, err := h.d.Hasher.Hash(ctx, req.GetNewPassword())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	e := h.entry(ctx, audit.PasswordChanged, me.ID(), me.ID(), now)
	if err := h.d.Store.ChangePassword(ctx, me.ID(), newHash, e); err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.ChangePasswordResponse{}, nil
}

// GetUser returns an account (admin, dispatcher).
func (h *Handler) GetUser(ctx context.Context, req *identityv1.GetUserRequest) (*identityv1.GetUserResponse, error) {
	const op = "rpc.GetUser"
	if _, _, err := h.caller(ctx, op, false, user.Admin, user.Dispatcher); err != nil {
		return nil, err
	}
	if vs := checkID("id", req.GetId()); vs != nil {
		return nil, errs.BadRequest(op, vs...)
	}
	u, err := h.d.Store.User(ctx, req.GetId())
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &identityv1.GetUserResponse{User: userToProto(u)}, nil
}

// ListUsers pages through accounts by email (admin, dispatcher).
func (h *Handler) ListUsers(ctx context.Context, req *identityv1.ListUsersRequest) (*identityv1.ListUsersResponse, error) {
	const op = "rpc.ListUsers"
	if _, _, err := h.caller(ctx, op, false, user.Admin, user.Dispatcher); err != nil {
		return nil, err
	}
	size, vs := pageSize(req.GetPageSize())
	var role user.Role
	if req.GetRole() != identityv1.Role_ROLE_UNSPECIFIED {
		r, ok := roleFromProto(req.GetRole())
		if !ok {
			vs = append(vs, errs.Violation{Field: "role", Description: "is not a role"})
		}
		role = r
	}
	query := fingerprint("users", string(role), boolString(req.GetIncludeInactive()))
	c, cvs := decodeCursor(req.GetPageToken(), query)
	if vs = append(vs, cvs...); len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	users, err := h.d.Store.ListUsers(ctx, postgres.UserQuery{Role: role, IncludeInactive: req.GetIncludeInactive(),
		AfterKey: c.Key, AfterID: c.ID, Limit: size + 1})
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	resp := &identityv1.ListUsersResponse{}
	if len(users) > size {
		users = users[:size]
		last := users[size-1]
		resp.NextPageToken = encodeCursor(cursor{Key: last.Email() + last.Name(), ID: last.ID(), Query: query})
	}
	for _, u := range users {
		resp.Users = append(resp.Users, userToProto(u))
	}
	return resp, nil
}

func boolString(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// SetUserRoles replaces an account's roles (admin). Admins cannot drop their own admin role.
func (h *Handler) SetUserRoles(ctx context.Context, req *identityv1.SetUserRolesRequest) (*identityv1.SetUserRolesResponse, error) {
	const op = "rpc.SetUserRoles"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	roles, vs := rolesFromProto("roles", req.GetRoles())
	if vs = append(checkID("id", req.GetId()), vs...); len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	now := h.d.Now()
	e := h.entry(ctx, audit.UserRolesSet, actor.ID(), req.GetId(), now)
	e.Details = map[string]string{"roles": strings.Join(user.RoleNames(roles), ",")}
	u, err := h.d.Store.Update(ctx, req.GetId(), func(u *user.User) error { return u.SetRoles(roles, actor.ID(), now) }, e)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.SetUserRolesResponse{User: userToProto(u)}, nil
}

// DeactivateUser stops an account from signing in and revokes its refresh tokens (admin).
// Its access tokens lapse within the access TTL elsewhere; identity refuses them at once.
func (h *Handler) DeactivateUser(ctx context.Context, req *identityv1.DeactivateUserRequest) (*identityv1.DeactivateUserResponse, error) {
	const op = "rpc.DeactivateUser"
	_, actor, err := h.caller(ctx, op, false, user.Admin)
	if err != nil {
		return nil, err
	}
	if vs := checkID("id", req.GetId()); vs != nil {
		return nil, errs.BadRequest(op, vs...)
	}
	now := h.d.Now()
	e := h.entry(ctx, audit.UserDeactivated, actor.ID(), req.GetId(), now)
	u, err := h.d.Store.Update(ctx, req.GetId(), func(u *user.User) error { return u.Deactivate(actor.ID(), now) }, e)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	audit.Log(ctx, h.d.Log, e)
	return &identityv1.DeactivateUserResponse{User: userToProto(u)}, nil
}
