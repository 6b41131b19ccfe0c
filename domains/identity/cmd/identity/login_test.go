package main

import (
	"bytes"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/domains/identity/totp"
)

// violations returns the fields of an InvalidArgument's BadRequest details.
func violations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField())
			}
		}
	}
	return out
}

func TestEnrolmentThenLoginWithTOTPAndRecoveryCodes(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.enrolling(t, m.created(t, "newcomer", identityv1.Role_ROLE_DISPATCHER))
	api := p.api(t, m)

	// An enrolment session: identity's audience only, the enrol scope, no roles.
	if _, err := m.verifier(t).Verify(m.ctx, p.access); err == nil {
		t.Fatal("an enrolment token verified for the mesh audience")
	}
	if _, err := api.UpdateMe(m.ctx, &identityv1.UpdateMeRequest{DisplayName: "x"}); status.Code(err) != codes.PermissionDenied ||
		!strings.Contains(status.Convert(err).Message(), "enrol") {
		t.Fatalf("UpdateMe with an enrolment session: %v", err)
	}
	me, err := api.GetMe(m.ctx, &identityv1.GetMeRequest{})
	if err != nil || me.GetUser().GetTotpEnrolled() {
		t.Fatalf("GetMe: %v %v", me, err)
	}

	begin, err := api.BeginTotpEnrollment(m.ctx, &identityv1.BeginTotpEnrollmentRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(begin.GetOtpauthUri(), "otpauth://totp/Meshwork:"+p.email+"?") {
		t.Errorf("URI %s", begin.GetOtpauthUri())
	}
	if _, err := png.Decode(bytes.NewReader(begin.GetQrPng())); err != nil {
		t.Errorf("QR code: %v", err)
	}
	secret := secretOf(t, begin.GetOtpauthUri())
	_, err = api.ConfirmTotpEnrollment(m.ctx, &identityv1.ConfirmTotpEnrollmentRequest{Code: wrongCode(secret)})
	wantCode(t, "confirm with a wrong code", err, codes.InvalidArgument)
	if f := violations(err); !slices.Equal(f, []string{"code"}) {
		t.Errorf("violations %v", f)
	}
	p.secret = secret
	confirm, err := api.ConfirmTotpEnrollment(m.ctx, &identityv1.ConfirmTotpEnrollmentRequest{Code: p.code(t)})
	if err != nil {
		t.Fatal(err)
	}
	p.recovery = confirm.GetRecoveryCodes()

	// TOTP is enrolled but the one-time password is still in place: still an enrolment
	// session, now after a TOTP code.
	login, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, TotpCode: p.code(t)})
	if err != nil || login.GetTokens().GetRefreshToken() != "" || login.GetTotpEnrollmentRequired() {
		t.Fatalf("login before the password change: %v, %v", login, err)
	}
	if _, err := api.ChangePassword(m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: p.password, NewPassword: "my own passphrase, finally"}); err != nil {
		t.Fatal(err)
	}
	p.password = "my own passphrase, finally"

	generic := func(what string, req *identityv1.LoginRequest) {
		t.Helper()
		_, err := m.anon.Login(m.ctx, req)
		wantCode(t, what, err, codes.Unauthenticated)
		if msg := status.Convert(err).Message(); msg != "invalid email, password or code" {
			t.Errorf("%s: message %q reveals more than the generic one", what, msg)
		}
	}
	generic("no second factor", &identityv1.LoginRequest{Email: p.email, Password: p.password})
	generic("wrong code", &identityv1.LoginRequest{Email: p.email, Password: p.password, TotpCode: wrongCode(secret)})
	generic("wrong password", &identityv1.LoginRequest{Email: p.email, Password: "not my passphrase at all", TotpCode: freshCode(secret)})
	generic("unknown account", &identityv1.LoginRequest{Email: "nobody@meshwork.example", Password: p.password, TotpCode: freshCode(secret)})

	code := p.code(t)
	login, err = m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, TotpCode: code})
	if err != nil || login.GetTokens().GetRefreshToken() == "" || login.GetTotpEnrollmentRequired() {
		t.Fatalf("login with password and TOTP: %v, %v", login, err)
	}
	c := m.claims(t, login.GetTokens().GetAccessToken())
	if !slices.Equal(c.Roles, []string{"dispatcher"}) || slices.Contains(c.Scopes, grant.EnrollScope) {
		t.Errorf("full session claims %+v", c)
	}
	generic("the same code again", &identityv1.LoginRequest{Email: p.email, Password: p.password, TotpCode: code})

	rc := p.recovery[3]
	login, err = m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, RecoveryCode: strings.ToUpper(rc)})
	if err != nil || login.GetTokens().GetRefreshToken() == "" {
		t.Fatalf("login with a recovery code: %v", err)
	}
	generic("the same recovery code again", &identityv1.LoginRequest{Email: p.email, Password: p.password, RecoveryCode: rc})
}

// wrongCode is a well-formed code that matches none of the steps Validate accepts now.
func wrongCode(secret []byte) string {
	now := time.Now()
	var valid []string
	for d := -2; d <= 2; d++ {
		valid = append(valid, totp.Code(secret, now.Add(time.Duration(d)*totp.Period)))
	}
	for c := 0; ; c++ {
		code := strings.Repeat(string(rune('0'+c%10)), 6)
		if !slices.Contains(valid, code) {
			return code
		}
	}
}

func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.person(t, "target", identityv1.Role_ROLE_ENGINEER)
	for _, account := range []string{p.email, "ghost@meshwork.example"} {
		for i := range 10 {
			_, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: account, Password: "guess number " + string(rune('a'+i)) + " is wrong"})
			wantCode(t, "failed attempt", err, codes.Unauthenticated)
		}
		// The eleventh attempt is refused before the password is looked at, even the right one.
		_, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: account, Password: p.password, RecoveryCode: p.recovery[0]})
		wantCode(t, "attempt after 10 failures ("+account+")", err, codes.ResourceExhausted)
	}
	// Other accounts are not affected (the per-source limit is higher).
	other := m.person(t, "bystander", identityv1.Role_ROLE_ENGINEER)
	if _, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: other.email, Password: other.password, RecoveryCode: other.recovery[0]}); err != nil {
		t.Errorf("another account: %v", err)
	}
}

func TestChangePasswordNeedsTheCurrentOne(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.person(t, "changer", identityv1.Role_ROLE_ANALYST)
	api := p.api(t, m)
	_, err := api.ChangePassword(m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: "not it at all", NewPassword: "a brand new passphrase"})
	wantCode(t, "wrong current password", err, codes.InvalidArgument)
	if f := violations(err); !slices.Equal(f, []string{"current_password"}) {
		t.Errorf("violations %v", f)
	}
	_, err = api.ChangePassword(m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: p.password, NewPassword: "short"})
	wantCode(t, "weak new password", err, codes.InvalidArgument)
	if f := violations(err); !slices.Equal(f, []string{"new_password"}) {
		t.Errorf("violations %v", f)
	}
	_, err = api.ChangePassword(m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: p.password, NewPassword: p.email})
	wantCode(t, "email as password", err, codes.InvalidArgument)
	if _, err := api.ChangePassword(m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: p.password, NewPassword: "a brand new passphrase"}); err != nil {
		t.Fatal(err)
	}
	// Every session is signed out; the old password no longer works, the new one does.
	_, err = m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: p.refresh})
	wantCode(t, "refresh after the password change", err, codes.Unauthenticated)
	_, err = m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, RecoveryCode: p.recovery[0]})
	wantCode(t, "old password", err, codes.Unauthenticated)
	if _, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: "a brand new passphrase", RecoveryCode: p.recovery[1]}); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestRefreshRotatesAndReuseRevokesTheFamily(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.person(t, "session", identityv1.Role_ROLE_ENGINEER)
	first := p.refresh
	r1, err := m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: first})
	if err != nil {
		t.Fatal(err)
	}
	if r1.GetTokens().GetRefreshToken() == first || r1.GetTokens().GetAccessToken() == "" {
		t.Fatal("refresh did not rotate")
	}
	m.claims(t, r1.GetTokens().GetAccessToken())
	r2, err := m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: r1.GetTokens().GetRefreshToken()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: first})
	wantCode(t, "reuse of a spent token", err, codes.Unauthenticated)
	_, err = m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: r2.GetTokens().GetRefreshToken()})
	wantCode(t, "the family's newest token after reuse", err, codes.Unauthenticated)

	// Logout ends a session the same way.
	login, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, RecoveryCode: p.recovery[0]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.anon.Logout(m.ctx, &identityv1.LogoutRequest{RefreshToken: login.GetTokens().GetRefreshToken()}); err != nil {
		t.Fatal(err)
	}
	_, err = m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: login.GetTokens().GetRefreshToken()})
	wantCode(t, "refresh after logout", err, codes.Unauthenticated)
}

func TestDeactivateStopsLoginAndRefresh(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.person(t, "leaver", identityv1.Role_ROLE_ENGINEER)
	admin := m.admin.api(t, m)
	resp, err := admin.DeactivateUser(m.ctx, &identityv1.DeactivateUserRequest{Id: p.id})
	if err != nil || resp.GetUser().GetActive() {
		t.Fatalf("DeactivateUser: %v, %v", resp, err)
	}
	_, err = m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, RecoveryCode: p.recovery[0]})
	wantCode(t, "login", err, codes.Unauthenticated)
	_, err = m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: p.refresh})
	wantCode(t, "refresh", err, codes.Unauthenticated)
	_, err = p.api(t, m).GetMe(m.ctx, &identityv1.GetMeRequest{})
	wantCode(t, "identity RPC with a live access token", err, codes.Unauthenticated)

	_, err = admin.DeactivateUser(m.ctx, &identityv1.DeactivateUserRequest{Id: m.admin.id})
	wantCode(t, "an admin deactivating themselves", err, codes.FailedPrecondition)
	_, err = admin.SetUserRoles(m.ctx, &identityv1.SetUserRolesRequest{Id: m.admin.id, Roles: []identityv1.Role{identityv1.Role_ROLE_ANALYST}})
	wantCode(t, "an admin dropping their own admin role", err, codes.FailedPrecondition)
	_, err = admin.SetUserRoles(m.ctx, &identityv1.SetUserRolesRequest{Id: p.id, Roles: []identityv1.Role{identityv1.Role_ROLE_SERVICE}})
	wantCode(t, "the service role for a person", err, codes.InvalidArgument)
}
