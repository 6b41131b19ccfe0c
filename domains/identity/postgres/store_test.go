package postgres_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if err := e.store.Migrate(e.ctx); err != nil {
		t.Fatalf("second migration: %v", err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations %v, %v", files, err)
	}
	var n int
	if err := e.pool.QueryRow(e.ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Fatalf("schema_migrations rows %d, %v, want one per migration (%d)", n, err, len(files))
	}
}

func TestCreateUpdateAndEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person(t, "alice@example.com", user.Engineer)
	subject := "dp.identity.users.v1." + alice.ID()

	_, err := e.store.CreateUser(e.ctx, postgres.NewUser{User: alice, PasswordHash: "x"})
	if !errs.Is(err, errs.Conflict) {
		t.Fatalf("second user with the email: %v, want conflict", err)
	}
	got, err := e.store.User(e.ctx, alice.ID())
	if err != nil || got.Email() != "alice@example.com" || !got.CreatedAt().Equal(alice.CreatedAt()) {
		t.Fatalf("User = %+v, %v", got, err)
	}
	now := postgres.Now()
	if _, err := e.store.Update(e.ctx, alice.ID(), func(u *user.User) error {
		if err := u.UpdateProfile("Alice", now); err != nil {
			return err
		}
		return u.SetRoles([]user.Role{user.Dispatcher}, "admin", now)
	}); err != nil {
		t.Fatal(err)
	}
	// A failing rule rolls back and enqueues nothing.
	if _, err := e.store.Update(e.ctx, alice.ID(), func(u *user.User) error {
		_ = u.UpdateProfile("Not saved", now)
		return errs.E("test", errs.FailedPrecondition, "no")
	}); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("failing update: %v", err)
	}
	if _, err := e.store.Update(e.ctx, uuid.NewString(), func(*user.User) error { return nil }); !errs.Is(err, errs.NotFound) {
		t.Fatalf("update of a missing user: %v", err)
	}
	got, _ = e.store.User(e.ctx, alice.ID())
	if got.DisplayName() != "Alice" || !slices.Equal(got.Roles(), []user.Role{user.Dispatcher}) {
		t.Errorf("after update %+v", got.Snapshot())
	}
	if subjects := e.outboxSubjects(t); !slices.Equal(subjects, []string{subject, subject, subject}) {
		t.Errorf("outbox subjects %v, want registered, updated, roles changed", subjects)
	}
}

func TestIdempotentCreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	idem := func(response string, request string) *postgres.Idempotency {
		return &postgres.Idempotency{ActorID: "admin-1", Operation: "CreateUser", Key: "k-1",
			RequestHash: []byte(request), Response: []byte(response)}
	}
	mk := func(email string) *user.User {
		u, err := user.New(uuid.NewString(), email, "B", []user.Role{user.Analyst}, postgres.Now())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	replay, err := e.store.CreateUser(e.ctx, postgres.NewUser{User: mk("bob@example.com"), PasswordHash: "h", Idempotency: idem("first response", "req")})
	if err != nil || replay != nil {
		t.Fatalf("first create: %q, %v", replay, err)
	}
	replay, err = e.store.CreateUser(e.ctx, postgres.NewUser{User: mk("bob@example.com"), PasswordHash: "h", Idempotency: idem("second response", "req")})
	if err != nil || string(replay) != "first response" {
		t.Fatalf("retry: %q, %v; want the first response", replay, err)
	}
	_, err = e.store.CreateUser(e.ctx, postgres.NewUser{User: mk("carol@example.com"), PasswordHash: "h", Idempotency: idem("x", "other request")})
	if !errs.Is(err, errs.Invalid) || errs.Violations(err)[0].Field != "idempotency_key" {
		t.Fatalf("key reused for another request: %v", err)
	}
	var sealed []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT sealed_response FROM idempotency_keys`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("first response")) {
		t.Error("the stored response is not encrypted")
	}
	if subjects := e.outboxSubjects(t); len(subjects) != 1 {
		t.Errorf("%d events, want one registration", len(subjects))
	}
}

func TestListUsersPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, email := range []string{"d@example.com", "a@example.com", "c@example.com", "b@example.com"} {
		e.person(t, email, user.Engineer)
	}
	admin := e.person(t, "e@example.com", user.Admin)
	sa, _ := user.NewServiceAccount(uuid.NewString(), "bravo", postgres.Now())
	if _, err := e.store.CreateServiceAccount(e.ctx, postgres.NewUser{User: sa, ClientID: token.ClientID("bravo"), SecretHash: []byte("h")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Update(e.ctx, admin.ID(), func(u *user.User) error { return u.Deactivate("someone", postgres.Now()) }); err != nil {
		t.Fatal(err)
	}
	var seen []string
	q := postgres.UserQuery{Limit: 2}
	for {
		page, err := e.store.ListUsers(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			seen = append(seen, u.Email()+u.Name())
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.AfterKey, q.AfterID = last.Email()+last.Name(), last.ID()
	}
	if want := []string{"a@example.com", "b@example.com", "bravo", "c@example.com", "d@example.com"}; !slices.Equal(seen, want) {
		t.Errorf("pages %v, want %v", seen, want)
	}
	admins, err := e.store.ListUsers(e.ctx, postgres.UserQuery{Role: user.Admin, IncludeInactive: true, Limit: 10})
	if err != nil || len(admins) != 1 || admins[0].Active() {
		t.Errorf("inactive admins %v, %v", admins, err)
	}
}

func TestFirstAdminOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	mk := func(email string) postgres.NewUser {
		u, _ := user.New(uuid.NewString(), email, "Admin", []user.Role{user.Admin}, postgres.Now())
		u.MarkBootstrapped(postgres.Now())
		return postgres.NewUser{User: u, PasswordHash: "h", Audit: audit.Entry{At: postgres.Now(), Action: audit.AdminBootstrapped}}
	}
	secret := []byte("0123456789abcdefghij")
	if err := e.store.CreateFirstAdmin(e.ctx, mk("root@example.com"), secret); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateFirstAdmin(e.ctx, mk("other@example.com"), secret); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("second bootstrap: %v", err)
	}
	var sealed []byte
	if err := e.pool.QueryRow(e.ctx, `SELECT sealed_secret FROM totp_secrets`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Error("the TOTP secret is stored in clear")
	}
}

func TestTOTPAndRecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.person(t, "totp@example.com", user.Engineer)
	if _, err := e.store.TOTPSecret(e.ctx, u.ID()); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("secret before enrolment: %v", err)
	}
	if _, err := e.store.ConfirmTOTP(e.ctx, u.ID(), []byte("x"), nil); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("confirm before begin: %v", err)
	}
	first, second := []byte("first-secret-20bytes"), []byte("second-secret-20byte")
	for _, s := range [][]byte{first, second} {
		if err := e.store.BeginTOTP(e.ctx, u.ID(), s); err != nil {
			t.Fatal(err)
		}
	}
	// The caller checked a code against the first secret, but enrolment began again.
	if _, err := e.store.ConfirmTOTP(e.ctx, u.ID(), first, nil); !errs.Is(err, errs.FailedPrecondition) {
		t.Fatalf("confirming a replaced secret: %v", err)
	}
	codes := [][]byte{[]byte("code-hash-1"), []byte("code-hash-2")}
	got, err := e.store.ConfirmTOTP(e.ctx, u.ID(), second, codes)
	if err != nil || !got.TOTPEnrolled() {
		t.Fatalf("confirm: %v", err)
	}
	if s, err := e.store.TOTPSecret(e.ctx, u.ID()); err != nil || !bytes.Equal(s, second) {
		t.Fatalf("secret %q, %v", s, err)
	}
	for i, want := range []bool{true, false} {
		used, err := e.store.UseRecoveryCode(e.ctx, u.ID(), codes[0])
		if err != nil || used != want {
			t.Errorf("use #%d: %v, %v; want %v", i+1, used, err, want)
		}
	}
	if used, _ := e.store.UseRecoveryCode(e.ctx, uuid.NewString(), codes[1]); used {
		t.Error("another account used the code")
	}
}

func TestGrants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.person(t, "g@example.com", user.Analyst)
	now := postgres.Now()
	mk := func(app string, scopes []string, ttl time.Duration) *grant.Grant {
		g, err := grant.New(uuid.NewString(), u.ID(), app, scopes, now.Add(ttl), "admin", now)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.store.CreateGrant(e.ctx, g); err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := mk("quality", []string{"quality:read"}, time.Hour)
	mk("files", []string{"files:read", "files:write"}, time.Hour)
	mk("logistics", []string{"logistics:read"}, time.Second)
	orphan, _ := grant.New(uuid.NewString(), uuid.NewString(), "quality", []string{"quality:read"}, now.Add(time.Hour), "admin", now)
	if err := e.store.CreateGrant(e.ctx, orphan); !errs.Is(err, errs.NotFound) {
		t.Fatalf("grant to nobody: %v", err)
	}
	scopes, err := e.store.ActiveScopes(e.ctx, u.ID(), now.Add(2*time.Second))
	if err != nil || !slices.Equal(scopes, []string{"files:read", "files:write", "quality:read"}) {
		t.Fatalf("scopes %v, %v", scopes, err)
	}
	if _, err := e.store.UpdateGrant(e.ctx, a.ID(), func(g *grant.Grant) error { g.Revoke(now); return nil }); err != nil {
		t.Fatal(err)
	}
	scopes, _ = e.store.ActiveScopes(e.ctx, u.ID(), now.Add(2*time.Second))
	if !slices.Equal(scopes, []string{"files:read", "files:write"}) {
		t.Errorf("after revoking: %v", scopes)
	}
	active, err := e.store.ListGrants(e.ctx, postgres.GrantQuery{SubjectID: u.ID(), Now: now.Add(2 * time.Second), Limit: 10})
	if err != nil || len(active) != 1 {
		t.Errorf("active grants %d, %v", len(active), err)
	}
	var all []string
	q := postgres.GrantQuery{IncludeInactive: true, Limit: 2}
	for {
		page, err := e.store.ListGrants(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range page {
			all = append(all, g.ID())
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1].Snapshot()
		q.AfterCreated, q.AfterID = last.CreatedAt, last.ID
	}
	if len(all) != 3 {
		t.Errorf("paged through %d grants, want 3", len(all))
	}
}

func TestRehashPasswordKeepsAChangedPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.enrolled(t, "rehash@example.com")
	entry := audit.Entry{At: postgres.Now(), Action: audit.PasswordRehashed, SubjectID: u.ID()}
	// The password was changed after the sign-in read the old hash: the re-hash must not undo it.
	if err := e.store.ChangePassword(e.ctx, u.ID(), "$argon2id$changed"); err != nil {
		t.Fatal(err)
	}
	replaced, err := e.store.RehashPassword(e.ctx, u.ID(), "$argon2id$fake", "$argon2id$rehashed", entry)
	if err != nil || replaced {
		t.Fatalf("re-hash of a stale hash: %v, %v", replaced, err)
	}
	if h, _ := e.store.PasswordHash(e.ctx, u.ID()); h != "$argon2id$changed" {
		t.Fatalf("hash %q after a stale re-hash", h)
	}
	replaced, err = e.store.RehashPassword(e.ctx, u.ID(), "$argon2id$changed", "$argon2id$rehashed", entry)
	if err != nil || !replaced {
		t.Fatalf("re-hash: %v, %v", replaced, err)
	}
	if h, _ := e.store.PasswordHash(e.ctx, u.ID()); h != "$argon2id$rehashed" {
		t.Fatalf("hash %q after the re-hash", h)
	}
	if entries, _ := e.store.AuditEntries(e.ctx, u.ID(), 1); len(entries) != 1 || entries[0].Action != audit.PasswordRehashed {
		t.Errorf("audit %v", entries)
	}
}
