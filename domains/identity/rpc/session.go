package rpc

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/password"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/totp"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

// loginRefused is the one answer to every failed sign-in, whatever failed and whether the
// account exists.
const loginRefused = "invalid email, password or code"

// dummySecretHash is compared against when a client id is unknown, so the failure costs the
// same as a wrong secret.
var dummySecretHash = token.Hash("no such client")

// Login checks the password and second factor and returns tokens: a full session, or an
// enrolment session while TOTP is not enrolled or the one-time password not yet changed.
func (h *Handler) Login(ctx context.Context, req *identityv1.LoginRequest) (*identityv1.LoginResponse, error) {
	const op = "rpc.Login"
	now := h.d.Now()
	src := source(ctx)
	email := strings.ToLower(strings.TrimSpace(req.GetEmail()))
	var vs []errs.Violation
	if email == "" {
		vs = append(vs, errs.Violation{Field: "email", Description: "is required"})
	}
	if req.GetPassword() == "" {
		vs = append(vs, errs.Violation{Field: "password", Description: "is required"})
	}
	if len(req.GetPassword()) > user.MaxPasswordBytes {
		vs = append(vs, errs.Violation{Field: "password", Description: "must be at most 256 bytes"})
	}
	if len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	if err := h.d.Throttle.Check(ctx, email, src, now); err != nil {
		e := h.entry(ctx, audit.LoginThrottled, "", "", now)
		e.Details = map[string]string{"email": email}
		h.record(ctx, e)
		return nil, errs.Wrap(op, err)
	}
	fail := func(u *user.User, reason string) (*identityv1.LoginResponse, error) {
		e := h.entry(ctx, audit.LoginFailed, "", "", now)
		e.Details = map[string]string{"email": email, "reason": reason}
		if u != nil {
			e.SubjectID = u.ID()
		}
		h.record(ctx, e)
		if err := h.d.Throttle.Failed(ctx, email, src, now); err != nil {
			return nil, errs.Wrap(op, err)
		}
		return nil, errs.E(op, errs.Unauthenticated, loginRefused)
	}

	u, hash, err := h.d.Store.Credentials(ctx, email)
	if errs.Is(err, errs.NotFound) {
		h.d.Hasher.DummyVerify(ctx, req.GetPassword())
		return fail(nil, "unknown account")
	}
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	ok, err := h.d.Hasher.Verify(ctx, req.GetPassword(), hash)
	switch {
	case err != nil:
		return nil, errs.Wrap(op, err)
	case !ok:
		return fail(u, "wrong password")
	case !u.Active():
		return fail(u, "account deactivated")
	}
	if u.TOTPEnrolled() {
		if reason, err := h.secondFactor(ctx, u, req, now); err != nil {
			return nil, errs.Wrap(op, err)
		} else if reason != "" {
			return fail(u, reason)
		}
	}
	h.rehash(ctx, u, req.GetPassword(), hash, now)
	e := h.entry(ctx, audit.LoginSucceeded, u.ID(), u.ID(), now)
	if !u.FullSessionAllowed() {
		e.Details = map[string]string{"session": "enrolment"}
		h.record(ctx, e)
		access, err := h.d.Issuer.Issue(token.Access{Subject: u.ID(), Enrolment: true}, now)
		if err != nil {
			return nil, errs.Wrap(op, err)
		}
		return &identityv1.LoginResponse{
			Tokens:                 &identityv1.Tokens{AccessToken: access.Token, AccessTokenExpiresAt: timestamppb.New(access.ExpiresAt)},
			TotpEnrollmentRequired: !u.TOTPEnrolled(),
		}, nil
	}
	h.record(ctx, e)
	tokens, err := h.session(ctx, u, now)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &identityv1.LoginResponse{Tokens: tokens}, nil
}

// rehash stores a new hash of pw, which just verified against stored, when stored was made
// with other argon2id parameters than the Hasher's, so raised parameters reach every account
// at its next sign-in. A failure is logged and does not fail the sign-in; the store keeps a
// password changed meanwhile.
func (h *Handler) rehash(ctx context.Context, u *user.User, pw, stored string, now time.Time) {
	if !h.d.Hasher.NeedsRehash(stored) {
		return
	}
	fresh, err := h.d.Hasher.Hash(ctx, pw)
	if err != nil {
		h.d.Log.ErrorContext(ctx, "password not re-hashed", "user", u.ID(), "err", err)
		return
	}
	e := h.entry(ctx, audit.PasswordRehashed, u.ID(), u.ID(), now)
	if from, _, _, err := password.Decode(stored); err == nil {
		e.Details = map[string]string{"from": params(from), "to": params(h.d.Hasher.Params())}
	}
	replaced, err := h.d.Store.RehashPassword(ctx, u.ID(), stored, fresh, e)
	switch {
	case err != nil:
		h.d.Log.ErrorContext(ctx, "password not re-hashed", "user", u.ID(), "err", err)
	case replaced:
		audit.Log(ctx, h.d.Log, e)
	}
}

// params names argon2id parameters as the PHC string does, for the audit log.
func params(p password.Params) string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
}

// secondFactor checks the TOTP code or recovery code of req for u. It returns the reason of
// a refusal, or an error when the check itself failed.
func (h *Handler) secondFactor(ctx context.Context, u *user.User, req *identityv1.LoginRequest, now time.Time) (string, error) {
	switch {
	case req.GetTotpCode() != "":
		secret, err := h.d.Store.TOTPSecret(ctx, u.ID())
		if err != nil {
			return "", err
		}
		step, ok := totp.Validate(secret, req.GetTotpCode(), now)
		if !ok {
			return "wrong TOTP code", nil
		}
		first, err := h.d.UsedCodes.FirstUse(ctx, u.ID(), step)
		if err != nil {
			return "", err
		}
		if !first {
			return "TOTP code replayed", nil
		}
		return "", nil
	case req.GetRecoveryCode() != "":
		e := h.entry(ctx, audit.RecoveryCodeUsed, u.ID(), u.ID(), now)
		used, err := h.d.Store.UseRecoveryCode(ctx, u.ID(), totp.HashRecoveryCode(req.GetRecoveryCode()), e)
		if err != nil {
			return "", err
		}
		if !used {
			return "wrong or spent recovery code", nil
		}
		audit.Log(ctx, h.d.Log, e)
		return "", nil
	}
	return "second factor missing", nil
}

// access issues a full access token for u with its roles and its active grants' scopes.
func (h *Handler) access(ctx context.Context, u *user.User, now time.Time) (token.Issued, error) {
	return h.accessFor(ctx, u, "", now)
}

// accessFor is access for a service account's client id (the token's "client_id").
func (h *Handler) accessFor(ctx context.Context, u *user.User, clientID string, now time.Time) (token.Issued, error) {
	scopes, err := h.d.Store.ActiveScopes(ctx, u.ID(), now)
	if err != nil {
		return token.Issued{}, err
	}
	return h.d.Issuer.Issue(token.Access{Subject: u.ID(), Roles: user.RoleNames(u.Roles()), Scopes: scopes, ClientID: clientID}, now)
}

// session issues a full session for u: an access token and a refresh token of a new family.
func (h *Handler) session(ctx context.Context, u *user.User, now time.Time) (*identityv1.Tokens, error) {
	access, err := h.access(ctx, u, now)
	if err != nil {
		return nil, err
	}
	refresh := token.NewRefresh("", now, h.d.RefreshTTL)
	if err := h.d.Store.SaveRefresh(ctx, u.ID(), refresh); err != nil {
		return nil, err
	}
	return tokens(access, refresh), nil
}

func tokens(access token.Issued, refresh token.Refresh) *identityv1.Tokens {
	return &identityv1.Tokens{
		AccessToken:           access.Token,
		AccessTokenExpiresAt:  timestamppb.New(access.ExpiresAt),
		RefreshToken:          refresh.Token,
		RefreshTokenExpiresAt: timestamppb.New(refresh.ExpiresAt),
	}
}

// Refresh spends a refresh token for new tokens with the account's current roles and scopes.
// Reusing a spent token revokes its whole family.
func (h *Handler) Refresh(ctx context.Context, req *identityv1.RefreshRequest) (*identityv1.RefreshResponse, error) {
	const op = "rpc.Refresh"
	if req.GetRefreshToken() == "" {
		return nil, errs.BadRequest(op, errs.Violation{Field: "refresh_token", Description: "is required"})
	}
	now := h.d.Now()
	var reuse audit.Entry
	res, err := h.d.Store.Refresh(ctx, token.Hash(req.GetRefreshToken()),
		func(family string) token.Refresh { return token.NewRefresh(family, now, h.d.RefreshTTL) },
		func(u *user.User) audit.Entry {
			reuse = h.entry(ctx, audit.RefreshReuseDetected, "", u.ID(), now)
			reuse.Details = map[string]string{"effect": "session family revoked"}
			return reuse
		})
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	switch res.Outcome {
	case token.Spend:
	case token.Reused:
		audit.Log(ctx, h.d.Log, reuse)
		return nil, errs.Wrap(op, token.ErrRefreshRefused)
	default:
		return nil, errs.Wrap(op, token.ErrRefreshRefused)
	}
	access, err := h.access(ctx, res.User, now)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	return &identityv1.RefreshResponse{Tokens: tokens(access, res.Next)}, nil
}

// Logout revokes the refresh token's family. It answers the same whether the token was known.
func (h *Handler) Logout(ctx context.Context, req *identityv1.LogoutRequest) (*identityv1.LogoutResponse, error) {
	const op = "rpc.Logout"
	if req.GetRefreshToken() == "" {
		return nil, errs.BadRequest(op, errs.Violation{Field: "refresh_token", Description: "is required"})
	}
	now := h.d.Now()
	var e audit.Entry
	found, err := h.d.Store.Logout(ctx, token.Hash(req.GetRefreshToken()), func(userID string) audit.Entry {
		e = h.entry(ctx, audit.LoggedOut, userID, userID, now)
		return e
	})
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	if found {
		audit.Log(ctx, h.d.Log, e)
	}
	return &identityv1.LogoutResponse{}, nil
}

// IssueServiceToken is the client-credentials grant: a service account's client id and
// secret for an access token with its roles and scopes, without a refresh token.
func (h *Handler) IssueServiceToken(ctx context.Context, req *identityv1.IssueServiceTokenRequest) (*identityv1.IssueServiceTokenResponse, error) {
	const op = "rpc.IssueServiceToken"
	var vs []errs.Violation
	if req.GetClientId() == "" {
		vs = append(vs, errs.Violation{Field: "client_id", Description: "is required"})
	}
	if req.GetClientSecret() == "" {
		vs = append(vs, errs.Violation{Field: "client_secret", Description: "is required"})
	}
	if len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	now, src := h.d.Now(), source(ctx)
	account := "client:" + req.GetClientId()
	if err := h.d.Throttle.Check(ctx, account, src, now); err != nil {
		return nil, errs.Wrap(op, err)
	}
	u, hash, err := h.d.Store.ServiceAccount(ctx, req.GetClientId())
	if err != nil && !errs.Is(err, errs.NotFound) {
		return nil, errs.Wrap(op, err)
	}
	if u == nil {
		hash = dummySecretHash
	}
	if !token.SecretMatches(req.GetClientSecret(), hash) || u == nil || !u.Active() {
		e := h.entry(ctx, audit.ServiceTokenRefused, "", "", now)
		e.Details = map[string]string{"client_id": req.GetClientId()}
		h.record(ctx, e)
		if err := h.d.Throttle.Failed(ctx, account, src, now); err != nil {
			return nil, errs.Wrap(op, err)
		}
		return nil, errs.E(op, errs.Unauthenticated, "invalid client id or secret")
	}
	access, err := h.accessFor(ctx, u, req.GetClientId(), now)
	if err != nil {
		return nil, errs.Wrap(op, err)
	}
	h.record(ctx, h.entry(ctx, audit.ServiceTokenIssued, u.ID(), u.ID(), now))
	return &identityv1.IssueServiceTokenResponse{AccessToken: access.Token, ExpiresAt: timestamppb.New(access.ExpiresAt)}, nil
}
