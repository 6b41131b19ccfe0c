package main

import (
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
)

func TestGrantsReachTheNextToken(t *testing.T) {
	t.Parallel()
	m := start(t)
	p := m.person(t, "licensee", identityv1.Role_ROLE_ANALYST)
	other := m.person(t, "other", identityv1.Role_ROLE_ANALYST)
	admin := m.admin.api(t, m)
	in := func(h time.Duration) *timestamppb.Timestamp { return timestamppb.New(time.Now().Add(h)) }

	q, err := admin.GrantScopes(m.ctx, &identityv1.GrantScopesRequest{SubjectId: p.id, Application: "quality",
		Scopes: []string{"quality:write", "quality:read"}, ExpiresAt: in(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.GrantScopes(m.ctx, &identityv1.GrantScopesRequest{SubjectId: p.id, Application: "files",
		Scopes: []string{"files:read"}, ExpiresAt: in(2 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	_, err = admin.GrantScopes(m.ctx, &identityv1.GrantScopesRequest{SubjectId: p.id, Application: "quality",
		Scopes: []string{"files:read"}, ExpiresAt: in(-time.Hour)})
	wantCode(t, "bad grant", err, codes.InvalidArgument)
	if f := violations(err); !slices.Equal(f, []string{"scopes[0]", "expires_at"}) {
		t.Errorf("violations %v", f)
	}
	_, err = admin.GrantScopes(m.ctx, &identityv1.GrantScopesRequest{SubjectId: "0192f0c4-7d1e-7cc0-9b5e-3f1a2b3c4d5e",
		Application: "quality", Scopes: []string{"quality:read"}, ExpiresAt: in(time.Hour)})
	wantCode(t, "grant to nobody", err, codes.NotFound)

	// The current access token predates the grants; the next one carries them.
	if c := m.claims(t, p.access); len(c.Scopes) != 0 {
		t.Fatalf("scopes before refresh %v", c.Scopes)
	}
	refreshed, err := m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: p.refresh})
	if err != nil {
		t.Fatal(err)
	}
	p.use(m, refreshed.GetTokens())
	want := []string{"files:read", "quality:read", "quality:write"}
	if c := m.claims(t, p.access); !slices.Equal(c.Scopes, want) {
		t.Fatalf("scopes after refresh %v, want %v", c.Scopes, want)
	}
	me, err := p.api(t, m).GetMe(m.ctx, &identityv1.GetMeRequest{})
	if err != nil || !slices.Equal(me.GetScopes(), want) {
		t.Errorf("GetMe scopes %v, %v", me.GetScopes(), err)
	}

	// A non-admin lists their own grants only.
	mine, err := p.api(t, m).ListGrants(m.ctx, &identityv1.ListGrantsRequest{})
	if err != nil || len(mine.GetGrants()) != 2 {
		t.Fatalf("own grants %v, %v", mine, err)
	}
	_, err = other.api(t, m).ListGrants(m.ctx, &identityv1.ListGrantsRequest{SubjectId: p.id})
	wantCode(t, "someone else's grants", err, codes.PermissionDenied)
	theirs, err := other.api(t, m).ListGrants(m.ctx, &identityv1.ListGrantsRequest{})
	if err != nil || len(theirs.GetGrants()) != 0 {
		t.Errorf("the other's grants %v, %v", theirs, err)
	}
	page, err := admin.ListGrants(m.ctx, &identityv1.ListGrantsRequest{SubjectId: p.id, PageSize: 1})
	if err != nil || len(page.GetGrants()) != 1 || page.GetNextPageToken() == "" {
		t.Fatalf("admin page 1: %v, %v", page, err)
	}
	_, err = admin.ListGrants(m.ctx, &identityv1.ListGrantsRequest{PageSize: 1, PageToken: page.GetNextPageToken()})
	wantCode(t, "a page token of another query", err, codes.InvalidArgument)
	page2, err := admin.ListGrants(m.ctx, &identityv1.ListGrantsRequest{SubjectId: p.id, PageSize: 1, PageToken: page.GetNextPageToken()})
	if err != nil || len(page2.GetGrants()) != 1 || page2.GetGrants()[0].GetId() == page.GetGrants()[0].GetId() {
		t.Fatalf("admin page 2: %v, %v", page2, err)
	}

	// Revocation applies from the next token.
	revoked, err := admin.RevokeGrant(m.ctx, &identityv1.RevokeGrantRequest{Id: q.GetGrant().GetId()})
	if err != nil || revoked.GetGrant().GetRevokedAt() == nil {
		t.Fatalf("RevokeGrant: %v, %v", revoked, err)
	}
	refreshed, err = m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: p.refresh})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.claims(t, refreshed.GetTokens().GetAccessToken()); !slices.Equal(c.Scopes, []string{"files:read"}) {
		t.Errorf("scopes after revocation %v", c.Scopes)
	}
	all, err := admin.ListGrants(m.ctx, &identityv1.ListGrantsRequest{SubjectId: p.id, IncludeInactive: true})
	if err != nil || len(all.GetGrants()) != 2 {
		t.Errorf("with inactive: %v, %v", all, err)
	}
	active, err := admin.ListGrants(m.ctx, &identityv1.ListGrantsRequest{SubjectId: p.id})
	if err != nil || len(active.GetGrants()) != 1 {
		t.Errorf("active only: %v, %v", active, err)
	}
}

func TestServiceAccounts(t *testing.T) {
	t.Parallel()
	m := start(t)
	admin := m.admin.api(t, m)
	req := &identityv1.CreateServiceAccountRequest{Name: "scheduling", IdempotencyKey: "create-scheduling-1"}
	first, err := admin.CreateServiceAccount(m.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	m.remember(first.GetClientSecret())
	again, err := admin.CreateServiceAccount(m.ctx, req)
	if err != nil || again.GetClientSecret() != first.GetClientSecret() || again.GetAccount().GetId() != first.GetAccount().GetId() {
		t.Fatalf("retry with the same key: %v, %v", again, err)
	}
	_, err = admin.CreateServiceAccount(m.ctx, &identityv1.CreateServiceAccountRequest{Name: "other", IdempotencyKey: "create-scheduling-1"})
	wantCode(t, "the key for another request", err, codes.InvalidArgument)
	_, err = admin.CreateServiceAccount(m.ctx, &identityv1.CreateServiceAccountRequest{Name: "scheduling"})
	wantCode(t, "the name again without the key", err, codes.AlreadyExists)

	if first.GetClientId() != "svc-scheduling" || !first.GetAccount().GetServiceAccount() ||
		!slices.Equal(first.GetAccount().GetRoles(), []identityv1.Role{identityv1.Role_ROLE_SERVICE}) {
		t.Errorf("account %v", first)
	}
	if _, err := admin.GrantScopes(m.ctx, &identityv1.GrantScopesRequest{SubjectId: first.GetAccount().GetId(), Application: "logistics",
		Scopes: []string{"logistics:plan"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))}); err != nil {
		t.Fatal(err)
	}
	tok, err := m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: first.GetClientId(), ClientSecret: first.GetClientSecret()})
	if err != nil {
		t.Fatal(err)
	}
	c := m.claims(t, tok.GetAccessToken())
	if c.Subject != first.GetAccount().GetId() || !slices.Equal(c.Roles, []string{"service"}) || !slices.Equal(c.Scopes, []string{"logistics:plan"}) {
		t.Errorf("service token claims %+v", c)
	}
	_, err = m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: first.GetClientId(), ClientSecret: first.GetClientSecret() + "x"})
	wantCode(t, "wrong secret", err, codes.Unauthenticated)
	_, err = m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: "svc-nobody", ClientSecret: first.GetClientSecret()})
	wantCode(t, "unknown client", err, codes.Unauthenticated)

	// `identity create-service-account` on an existing name rotates the secret.
	store := m.store(t)
	creds, err := serviceAccount(m.ctx, store, "scheduling")
	if err != nil || creds.ClientID != first.GetClientId() || creds.ClientSecret == first.GetClientSecret() {
		t.Fatalf("rotate by name: %+v, %v", creds, err)
	}
	m.remember(creds.ClientSecret)
	_, err = m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: first.GetClientId(), ClientSecret: first.GetClientSecret()})
	wantCode(t, "the rotated-out secret", err, codes.Unauthenticated)
	if _, err := m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: creds.ClientID, ClientSecret: creds.ClientSecret}); err != nil {
		t.Errorf("the new secret: %v", err)
	}
	// A deactivated service account gets no tokens.
	if _, err := admin.DeactivateUser(m.ctx, &identityv1.DeactivateUserRequest{Id: first.GetAccount().GetId()}); err != nil {
		t.Fatal(err)
	}
	_, err = m.anon.IssueServiceToken(m.ctx, &identityv1.IssueServiceTokenRequest{ClientId: creds.ClientID, ClientSecret: creds.ClientSecret})
	wantCode(t, "deactivated service account", err, codes.Unauthenticated)
}
