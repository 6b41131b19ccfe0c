// Package rpc serves mesh.identity.v1.IdentityService: sign-in with password and TOTP,
// refresh and logout, client credentials for service accounts, the JWKS and key rotation,
// TOTP enrolment, users, service accounts and grants. Rules (rules.go) says who may call
// what; handlers convert at the edge (convert.go) and leave the rules to packages user,
// grant and token and the transactions to the store.
//
// # Enrolment sessions
//
// A sign-in without an enrolled TOTP authenticator, or with an admin-issued one-time
// password still in place, gets an enrolment token (package token): identity's audience
// only, no roles, scope "identity:enroll". Other services refuse it (wrong audience). Here
// the role rules refuse it (no roles), and the handlers of Authenticated RPCs refuse it too
// except GetMe, ChangePassword, BeginTotpEnrollment and ConfirmTotpEnrollment (PermissionDenied
// naming what to finish). A full session needs a fresh sign-in after enrolment.
//
// Handlers also re-read the caller's account on every call: a deactivated account is refused
// at once here, and admin RPCs check the roles the account has now, not the ones its token
// was issued with.
package rpc

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/peer"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/domains/identity/password"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/errs"
)

// Store is what the handlers need from storage (postgres.Store).
type Store interface {
	CreateUser(ctx context.Context, n postgres.NewUser) ([]byte, error)
	CreateServiceAccount(ctx context.Context, n postgres.NewUser) ([]byte, error)
	User(ctx context.Context, id string) (*user.User, error)
	Credentials(ctx context.Context, email string) (*user.User, string, error)
	PasswordHash(ctx context.Context, id string) (string, error)
	Update(ctx context.Context, id string, fn func(*user.User) error, entries ...audit.Entry) (*user.User, error)
	ChangePassword(ctx context.Context, id, hash string, entries ...audit.Entry) error
	RehashPassword(ctx context.Context, id, old, hash string, entries ...audit.Entry) (bool, error)
	ListUsers(ctx context.Context, q postgres.UserQuery) ([]*user.User, error)

	BeginTOTP(ctx context.Context, userID string, secret []byte, entries ...audit.Entry) error
	PendingTOTP(ctx context.Context, userID string) ([]byte, error)
	TOTPSecret(ctx context.Context, userID string) ([]byte, error)
	ConfirmTOTP(ctx context.Context, userID string, confirmed []byte, recoveryHashes [][]byte, entries ...audit.Entry) (*user.User, error)
	UseRecoveryCode(ctx context.Context, userID string, hash []byte, entries ...audit.Entry) (bool, error)

	SaveRefresh(ctx context.Context, userID string, r token.Refresh) error
	Refresh(ctx context.Context, hash []byte, next func(family string) token.Refresh, reuse func(*user.User) audit.Entry) (postgres.Refreshed, error)
	Logout(ctx context.Context, hash []byte, entry func(userID string) audit.Entry) (bool, error)
	ServiceAccount(ctx context.Context, clientID string) (*user.User, []byte, error)

	CreateGrant(ctx context.Context, g *grant.Grant, entries ...audit.Entry) error
	UpdateGrant(ctx context.Context, id string, fn func(*grant.Grant) error, entries ...audit.Entry) (*grant.Grant, error)
	ActiveScopes(ctx context.Context, subjectID string, now time.Time) ([]string, error)
	ListGrants(ctx context.Context, q postgres.GrantQuery) ([]*grant.Grant, error)

	RotateSigningKey(ctx context.Context, next token.SigningKey, delay, overlap time.Duration, entries ...audit.Entry) (time.Time, error)
	SigningKeys(ctx context.Context, now time.Time) ([]token.SigningKey, error)
	Audit(ctx context.Context, entries ...audit.Entry) error
}

// Throttle limits failed sign-ins (redis.Throttle).
type Throttle interface {
	Check(ctx context.Context, account, source string, now time.Time) error
	Failed(ctx context.Context, account, source string, now time.Time) error
}

// UsedCodes makes each TOTP step usable once (redis.UsedCodes).
type UsedCodes interface {
	FirstUse(ctx context.Context, userID string, step int64) (bool, error)
}

// Deps are the Handler's collaborators and settings.
type Deps struct {
	Store     Store
	Hasher    *password.Hasher
	Issuer    *token.Issuer
	Throttle  Throttle
	UsedCodes UsedCodes
	Log       *slog.Logger
	// RefreshTTL is how long refresh tokens live; zero means token.DefaultRefreshTTL.
	RefreshTTL time.Duration
	// KeyReload is how often every replica reloads the signing keys; it lengthens the
	// overlap of a rotation (token.Overlap).
	KeyReload time.Duration
	// ActivationDelay is how long a rotated-in key is published before it signs
	// (token.ActivationDelay); zero means it signs at once.
	ActivationDelay time.Duration
	// TOTPIssuer labels accounts in authenticator apps; empty means "Meshwork".
	TOTPIssuer string
	// Now is the clock; nil means postgres.Now.
	Now func() time.Time
}

// Handler implements identityv1.IdentityServiceServer.
type Handler struct {
	identityv1.UnimplementedIdentityServiceServer
	d Deps
}

var _ identityv1.IdentityServiceServer = (*Handler)(nil)

// New returns a Handler.
func New(d Deps) *Handler {
	if d.RefreshTTL <= 0 {
		d.RefreshTTL = token.DefaultRefreshTTL
	}
	if d.TOTPIssuer == "" {
		d.TOTPIssuer = "Meshwork"
	}
	if d.Now == nil {
		d.Now = postgres.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	return &Handler{d: d}
}

// enrolmentOnly is the refusal of an enrolment session where a full one is needed.
const enrolmentOnly = "this session may only enrol TOTP and change the password: finish both, then sign in again"

// caller returns the verified claims and current account of the caller. It refuses
// enrolment sessions unless enrolOK, deactivated or deleted accounts, and — when roles are
// given — accounts that no longer hold any of them.
func (h *Handler) caller(ctx context.Context, op string, enrolOK bool, roles ...user.Role) (*auth.Claims, *user.User, error) {
	c, ok := auth.FromContext(ctx)
	if !ok {
		return nil, nil, errs.E(op, errs.Unauthenticated, "missing bearer token")
	}
	enrolment := c.HasScope(grant.EnrollScope) || !slices.Contains(c.Audience, h.d.Issuer.Config().Audience)
	if enrolment && !enrolOK {
		return nil, nil, errs.E(op, errs.Forbidden, enrolmentOnly)
	}
	u, err := h.d.Store.User(ctx, c.Subject)
	switch {
	case errs.Is(err, errs.NotFound):
		return nil, nil, errs.E(op, errs.Unauthenticated, "the account no longer exists")
	case err != nil:
		return nil, nil, errs.Wrap(op, err)
	case !u.Active():
		return nil, nil, errs.E(op, errs.Unauthenticated, "the account is deactivated")
	}
	if len(roles) > 0 && !slices.ContainsFunc(roles, u.HasRole) {
		return nil, nil, errs.Errorf(op, errs.Forbidden, "requires role %s", strings.Join(user.RoleNames(roles), " or "))
	}
	return c, u, nil
}

// source is the caller's address without the port, for throttling and audit.
func source(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(p.Addr.String())
	if err != nil {
		return p.Addr.String()
	}
	return host
}

// record writes e to the audit table and the log. A failure to store it is logged, not
// returned: the caller's operation has already happened.
func (h *Handler) record(ctx context.Context, e audit.Entry) {
	audit.Log(ctx, h.d.Log, e)
	if err := h.d.Store.Audit(ctx, e); err != nil {
		h.d.Log.ErrorContext(ctx, "audit entry not stored", "action", string(e.Action), "err", err)
	}
}

// entry starts an audit entry at now from the caller in ctx.
func (h *Handler) entry(ctx context.Context, action audit.Action, actorID, subjectID string, now time.Time) audit.Entry {
	return audit.Entry{At: now, Action: action, ActorID: actorID, SubjectID: subjectID, Source: source(ctx)}
}
