package main

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/password"
	"meshwork.dev/domains/identity/stream"
)

// storedSecrets reads every hash and sealed value from the database, in the forms they could
// leak in: raw bytes, hex, base64, and the PHC strings with their salt and key parts.
func (m *identityUnderTest) storedSecrets(t *testing.T) []string {
	t.Helper()
	var out []string
	add := func(b []byte) {
		out = append(out, string(b), hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
	}
	rows, err := m.pool.Query(m.ctx, `SELECT hash FROM password_credentials`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var phc string
		if err := rows.Scan(&phc); err != nil {
			t.Fatal(err)
		}
		_, salt, key, err := password.Decode(phc)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, phc)
		add(salt)
		add(key)
	}
	rows.Close()
	for _, q := range []string{
		`SELECT token_hash FROM refresh_tokens`, `SELECT secret_hash FROM service_accounts`,
		`SELECT code_hash FROM recovery_codes`, `SELECT sealed_secret FROM totp_secrets WHERE sealed_secret IS NOT NULL`,
		`SELECT sealed_private FROM signing_keys`,
	} {
		rows, err := m.pool.Query(m.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				t.Fatal(err)
			}
			add(b)
		}
		rows.Close()
	}
	return out
}

// events waits until the identity.users.v1 stream holds at least n events and returns them.
func (m *identityUnderTest) events(t *testing.T, n int) []*jetstream.RawStreamMsg {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		s, err := m.js.Stream(m.ctx, stream.Users.StreamName())
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(m.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if int(info.State.Msgs) >= n {
			var out []*jetstream.RawStreamMsg
			for seq := info.State.FirstSeq; seq <= info.State.LastSeq; seq++ {
				msg, err := s.GetMsg(m.ctx, seq)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, msg)
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %d events, want %d", info.State.Msgs, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEventsAndAuditCarryNoSecrets(t *testing.T) {
	t.Parallel()
	m := start(t)
	admin := m.admin.api(t, m)
	p := m.person(t, "subject", identityv1.Role_ROLE_ENGINEER)
	if _, err := p.api(t, m).UpdateMe(m.ctx, &identityv1.UpdateMeRequest{DisplayName: "Renamed Subject"}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetUserRoles(m.ctx, &identityv1.SetUserRolesRequest{Id: p.id, Roles: []identityv1.Role{identityv1.Role_ROLE_ANALYST, identityv1.Role_ROLE_ENGINEER}}); err != nil {
		t.Fatal(err)
	}
	g, err := admin.GrantScopes(m.ctx, &identityv1.GrantScopesRequest{SubjectId: p.id, Application: "quality",
		Scopes: []string{"quality:read"}, ExpiresAt: timestamppb.New(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RevokeGrant(m.ctx, &identityv1.RevokeGrantRequest{Id: g.GetGrant().GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.anon.Refresh(m.ctx, &identityv1.RefreshRequest{RefreshToken: p.refresh}); err != nil {
		t.Fatal(err)
	}
	_, _ = m.anon.Login(m.ctx, &identityv1.LoginRequest{Email: p.email, Password: "a wrong password guess"})
	m.serviceAccount(t, "robot")
	if _, err := admin.DeactivateUser(m.ctx, &identityv1.DeactivateUserRequest{Id: p.id}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RotateSigningKey(m.ctx, &identityv1.RotateSigningKeyRequest{}); err != nil {
		t.Fatal(err)
	}

	// admin registered (at bootstrap, before the service ran), subject registered, updated,
	// roles changed, deactivated; robot registered.
	msgs := m.events(t, 6)
	secrets := append(m.storedSecrets(t), m.secrets...)
	kinds := map[identityv1.UserChangeKind]int{}
	for _, msg := range msgs {
		var ev identityv1.UserChanged
		if err := proto.Unmarshal(msg.Data, &ev); err != nil {
			t.Fatal(err)
		}
		kinds[ev.GetKind()]++
		var hdr bytes.Buffer
		for k, vs := range msg.Header {
			hdr.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		views := map[string]string{"payload bytes": string(msg.Data), "headers": hdr.String(), "decoded": prototext.Format(&ev)}
		for _, s := range secrets {
			if len(s) < 8 {
				continue
			}
			for view, text := range views {
				if strings.Contains(text, s) {
					t.Errorf("event %s (%s): %s contains a secret (%.12s…)", msg.Header.Get("ce-id"), ev.GetKind(), view, s)
				}
			}
		}
		if ev.GetUserId() == p.id && ev.GetEmail() != p.email {
			t.Errorf("event for %s has email %q", p.id, ev.GetEmail())
		}
	}
	for _, k := range []identityv1.UserChangeKind{identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED, identityv1.UserChangeKind_USER_CHANGE_KIND_UPDATED,
		identityv1.UserChangeKind_USER_CHANGE_KIND_ROLES_CHANGED, identityv1.UserChangeKind_USER_CHANGE_KIND_DEACTIVATED} {
		if kinds[k] == 0 {
			t.Errorf("no %s event; got %v", k, kinds)
		}
	}
	if kinds[identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED] != 3 {
		t.Errorf("registrations %d, want 3 (admin, subject, robot)", kinds[identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED])
	}

	// The audit table has the sign-ins, the admin actions and the grants, and no secret.
	rows, err := m.pool.Query(m.ctx, `SELECT action, details::text FROM audit_log`)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for rows.Next() {
		var action, details string
		if err := rows.Scan(&action, &details); err != nil {
			t.Fatal(err)
		}
		actions[action] = true
		for _, s := range secrets {
			if len(s) >= 8 && strings.Contains(details, s) {
				t.Errorf("audit %s details contain a secret (%.12s…)", action, s)
			}
		}
	}
	rows.Close()
	for _, a := range []string{"user.admin_bootstrapped", "login.succeeded", "login.failed", "user.created", "user.password_changed",
		"user.totp_enrolled", "login.recovery_code_used", "user.updated", "user.roles_set", "grant.created", "grant.revoked",
		"service_account.created", "service_token.issued", "user.deactivated", "signing_key.created", "signing_key.rotated"} {
		if !actions[a] {
			t.Errorf("no audit entry %s", a)
		}
	}
}

func TestJWKSOverHTTP(t *testing.T) {
	t.Parallel()
	m := start(t)
	get := func() (jose.JSONWebKeySet, http.Header) {
		t.Helper()
		req, _ := http.NewRequestWithContext(m.ctx, http.MethodGet, "http://"+m.httpAddr+"/.well-known/jwks.json", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET jwks: %s %s", resp.Status, body)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil {
			t.Fatal(err)
		}
		return set, resp.Header
	}
	set, hdr := get()
	if !strings.Contains(hdr.Get("Cache-Control"), "max-age=") || hdr.Get("Content-Type") != "application/jwk-set+json" {
		t.Errorf("headers %v", hdr)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("%d keys", len(set.Keys))
	}
	k := set.Keys[0]
	if k.KeyID == "" || k.Algorithm != "EdDSA" || k.Use != "sig" || !k.IsPublic() {
		t.Errorf("key %+v", k)
	}
	before := m.admin.access
	m.claims(t, before)

	rot, err := m.admin.api(t, m).RotateSigningKey(m.ctx, &identityv1.RotateSigningKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	set, _ = get()
	var ids []string
	for _, k := range set.Keys {
		ids = append(ids, k.KeyID)
	}
	// The old key signs for KEY_ACTIVATION_DELAY (a minute) more, so it comes first.
	if want := []string{k.KeyID, rot.GetKeyId()}; !slices.Equal(ids, want) {
		t.Errorf("keys after rotation %v, want %v", ids, want)
	}
	rpcSet, err := m.anon.GetJWKS(m.ctx, &identityv1.GetJWKSRequest{})
	if err != nil || !slices.Equal(rpcSet.GetKeyIds(), ids) || !strings.Contains(rpcSet.GetJwksJson(), rot.GetKeyId()) {
		t.Errorf("GetJWKS %v, %v", rpcSet, err)
	}
	m.claims(t, before)
}
