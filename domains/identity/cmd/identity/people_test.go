package main

import (
	"testing"
	"time"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/totp"
)

// person is a signed-in account of a test.
type person struct {
	id, email, password string
	secret              []byte         // TOTP secret
	usedSteps           map[int64]bool // TOTP steps already used
	recovery            []string       // unused recovery codes
	access, refresh     string         // current tokens
	client              identityv1.IdentityServiceClient
}

// use adopts new tokens and a client sending the access token.
func (p *person) use(m *identityUnderTest, tokens *identityv1.Tokens) {
	p.access, p.refresh = tokens.GetAccessToken(), tokens.GetRefreshToken()
	m.remember(p.access, p.refresh)
	p.client = nil
}

// api returns a client with p's current access token.
func (p *person) api(t testing.TB, m *identityUnderTest) identityv1.IdentityServiceClient {
	t.Helper()
	if p.client == nil {
		p.client = m.client(t, p.access)
	}
	return p.client
}

// code returns a TOTP code of p for a step the server accepts now (±1) that p has not used,
// preferring later steps; when all three are used it waits for the next step.
func (p *person) code(t testing.TB) string {
	t.Helper()
	if p.usedSteps == nil {
		p.usedSteps = map[int64]bool{}
	}
	for {
		now := time.Now()
		cur := totp.Step(now)
		for _, s := range []int64{cur + 1, cur, cur - 1} {
			if !p.usedSteps[s] {
				p.usedSteps[s] = true
				return totp.Code(p.secret, now.Add(time.Duration(s-cur)*totp.Period))
			}
		}
		time.Sleep(time.Until(time.Unix((cur+1)*int64(totp.Period/time.Second), 0)))
	}
}

// nextRecovery spends one of p's recovery codes.
func (p *person) nextRecovery(t testing.TB) string {
	t.Helper()
	if len(p.recovery) == 0 {
		t.Fatal("out of recovery codes")
	}
	c := p.recovery[0]
	p.recovery = p.recovery[1:]
	return c
}

// created is a person an admin created who has not signed in: email and one-time password.
func (m *identityUnderTest) created(t testing.TB, prefix string, roles ...identityv1.Role) *person {
	t.Helper()
	resp, err := m.admin.api(t, m).CreateUser(m.ctx, &identityv1.CreateUserRequest{
		Email: email(prefix), DisplayName: "Test " + prefix, Roles: roles,
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	m.remember(resp.GetOneTimePassword())
	return &person{id: resp.GetUser().GetId(), email: resp.GetUser().GetEmail(), password: resp.GetOneTimePassword()}
}

// enrolling signs in a created person with the one-time password: an enrolment session.
func (m *identityUnderTest) enrolling(t testing.TB, p *person) *person {
	t.Helper()
	resp, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password})
	if err != nil {
		t.Fatalf("first login: %v", err)
	}
	if !resp.GetTotpEnrollmentRequired() || resp.GetTokens().GetRefreshToken() != "" {
		t.Fatalf("first login gave %v", resp)
	}
	p.use(m, resp.GetTokens())
	return p
}

// onboard takes a created person through what a new user does — first sign-in, new
// password, TOTP enrolment — and signs them in with a recovery code: a full session.
func (m *identityUnderTest) onboard(t testing.TB, p *person) *person {
	t.Helper()
	m.enrolling(t, p)
	api := p.api(t, m)
	newPassword := "a long passphrase for " + p.email
	if _, err := api.ChangePassword(m.ctx, &identityv1.ChangePasswordRequest{CurrentPassword: p.password, NewPassword: newPassword}); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	p.password = newPassword
	m.remember(newPassword)
	m.enrol(t, p)
	login, err := m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: p.password, RecoveryCode: p.nextRecovery(t)})
	if err != nil {
		t.Fatalf("full login: %v", err)
	}
	if login.GetTotpEnrollmentRequired() || login.GetTokens().GetRefreshToken() == "" {
		t.Fatalf("full login gave %v", login)
	}
	p.use(m, login.GetTokens())
	return p
}

// enrol runs BeginTotpEnrollment and ConfirmTotpEnrollment with a code of an unused step.
func (m *identityUnderTest) enrol(t testing.TB, p *person) {
	t.Helper()
	api := p.api(t, m)
	begin, err := api.BeginTotpEnrollment(m.ctx, &identityv1.BeginTotpEnrollmentRequest{})
	if err != nil {
		t.Fatalf("BeginTotpEnrollment: %v", err)
	}
	secret := secretOf(t, begin.GetOtpauthUri())
	m.remember(totp.EncodeSecret(secret), string(secret))
	p.secret = secret
	confirm, err := api.ConfirmTotpEnrollment(m.ctx, &identityv1.ConfirmTotpEnrollmentRequest{Code: p.code(t)})
	if err != nil {
		t.Fatalf("ConfirmTotpEnrollment: %v", err)
	}
	if len(confirm.GetRecoveryCodes()) != totp.RecoveryCodes {
		t.Fatalf("%d recovery codes", len(confirm.GetRecoveryCodes()))
	}
	p.recovery = confirm.GetRecoveryCodes()
	m.remember(p.recovery...)
}

// person returns a fully signed-in person with roles.
func (m *identityUnderTest) person(t testing.TB, prefix string, roles ...identityv1.Role) *person {
	t.Helper()
	return m.onboard(t, m.created(t, prefix, roles...))
}

// serviceAccount creates a service account and signs it in with client credentials.
func (m *identityUnderTest) serviceAccount(t testing.TB, name string) (*person, *identityv1.CreateServiceAccountResponse) {
	t.Helper()
	created, err := m.admin.api(t, m).CreateServiceAccount(m.ctx, &identityv1.CreateServiceAccountRequest{Name: name})
	if err != nil {
		t.Fatalf("CreateServiceAccount: %v", err)
	}
	m.remember(created.GetClientSecret())
	tok, err := m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: created.GetClientId(), ClientSecret: created.GetClientSecret()})
	if err != nil {
		t.Fatalf("IssueServiceToken: %v", err)
	}
	m.remember(tok.GetAccessToken())
	return &person{id: created.GetAccount().GetId(), access: tok.GetAccessToken()}, created
}
