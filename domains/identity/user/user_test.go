package user_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fields(err error) []string {
	var out []string
	for _, v := range errs.Violations(err) {
		out = append(out, v.Field)
	}
	return out
}

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email, display string
		roles                []user.Role
		wantFields           []string
	}{
		{"ok", " Alice@Example.COM ", "Alice", []user.Role{user.Engineer}, nil},
		{"several roles", "bob@example.com", "Bob", []user.Role{user.Analyst, user.Dispatcher, user.Analyst}, nil},
		{"empty email", "", "A", []user.Role{user.Admin}, []string{"email"}},
		{"not an address", "alice", "A", []user.Role{user.Admin}, []string{"email"}},
		{"display name form", "Alice <alice@example.com>", "A", []user.Role{user.Admin}, []string{"email"}},
		{"no dot in domain", "root@localhost", "A", []user.Role{user.Admin}, []string{"email"}},
		{"too long", strings.Repeat("a", 250) + "@example.com", "A", []user.Role{user.Admin}, []string{"email"}},
		{"blank display name", "a@example.com", "  ", []user.Role{user.Admin}, []string{"display_name"}},
		{"long display name", "a@example.com", strings.Repeat("x", 101), []user.Role{user.Admin}, []string{"display_name"}},
		{"control character", "a@example.com", "A\x00B", []user.Role{user.Admin}, []string{"display_name"}},
		{"no roles", "a@example.com", "A", nil, []string{"roles"}},
		{"unknown role", "a@example.com", "A", []user.Role{"viewer"}, []string{"roles"}},
		{"service role", "a@example.com", "A", []user.Role{user.Service}, []string{"roles"}},
		{"everything wrong", "x", "", nil, []string{"email", "display_name", "roles"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := user.New("id-1", tt.email, tt.display, tt.roles, now)
			if got := fields(err); !slices.Equal(got, tt.wantFields) {
				t.Fatalf("violations on %v (%v), want %v", got, err, tt.wantFields)
			}
			if err != nil {
				if !errs.Is(err, errs.Invalid) {
					t.Errorf("kind %v, want invalid", errs.KindOf(err))
				}
				return
			}
			if u.Email() != strings.ToLower(strings.TrimSpace(tt.email)) || !u.Active() || !u.MustChangePassword() || u.TOTPEnrolled() {
				t.Errorf("new user %+v", u.Snapshot())
			}
			if !slices.Equal(u.Changes(), []user.Change{user.Registered}) {
				t.Errorf("changes %v, want [Registered]", u.Changes())
			}
			if u.FullSessionAllowed() {
				t.Error("a new user may not get a full session before enrolling TOTP")
			}
		})
	}
}

func TestRoleOrderIsCanonical(t *testing.T) {
	t.Parallel()
	u, err := user.New("id", "a@example.com", "A", []user.Role{user.Analyst, user.Admin, user.Analyst}, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Roles(); !slices.Equal(got, []user.Role{user.Admin, user.Analyst}) {
		t.Errorf("roles %v", got)
	}
}

func TestNewServiceAccount(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		ok   bool
	}{{"scheduling", true}, {"fleet-sim", true}, {"x", false}, {"Upper", false}, {"a--b", false}, {"-a", false}, {strings.Repeat("a", 41), false}} {
		u, err := user.NewServiceAccount("id", tt.name, now)
		if (err == nil) != tt.ok {
			t.Errorf("NewServiceAccount(%q) = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if err == nil && (!u.ServiceAccount() || !u.HasRole(user.Service) || u.Email() != "" || u.Name() != tt.name) {
			t.Errorf("service account %+v", u.Snapshot())
		}
	}
}

func TestRules(t *testing.T) {
	t.Parallel()
	later := now.Add(time.Hour)
	person := func() *user.User {
		return user.FromSnapshot(user.Snapshot{ID: "u1", Email: "a@example.com", DisplayName: "A",
			Roles: []user.Role{user.Admin, user.Engineer}, Active: true, CreatedAt: now, UpdatedAt: now})
	}
	service := func() *user.User {
		return user.FromSnapshot(user.Snapshot{ID: "s1", Name: "svc", DisplayName: "svc",
			Roles: []user.Role{user.Service}, Active: true, ServiceAccount: true, CreatedAt: now, UpdatedAt: now})
	}
	tests := []struct {
		name    string
		u       func() *user.User
		apply   func(*user.User) error
		kind    errs.Kind
		changes []user.Change
	}{
		{"rename", person, func(u *user.User) error { return u.UpdateProfile("Alice B", later) }, 0, []user.Change{user.Updated}},
		{"same name records nothing", person, func(u *user.User) error { return u.UpdateProfile(" A ", later) }, 0, nil},
		{"blank name", person, func(u *user.User) error { return u.UpdateProfile("", later) }, errs.Invalid, nil},
		{"set roles", person, func(u *user.User) error { return u.SetRoles([]user.Role{user.Analyst}, "admin-2", later) }, 0, []user.Change{user.RolesChanged}},
		{"same roles record nothing", person, func(u *user.User) error {
			return u.SetRoles([]user.Role{user.Engineer, user.Admin}, "admin-2", later)
		}, 0, nil},
		{"own admin role stays", person, func(u *user.User) error { return u.SetRoles([]user.Role{user.Engineer}, "u1", later) }, errs.FailedPrecondition, nil},
		{"own other roles may change", person, func(u *user.User) error { return u.SetRoles([]user.Role{user.Admin}, "u1", later) }, 0, []user.Change{user.RolesChanged}},
		{"person without roles", person, func(u *user.User) error { return u.SetRoles(nil, "admin-2", later) }, errs.Invalid, nil},
		{"person with service role", person, func(u *user.User) error { return u.SetRoles([]user.Role{user.Service}, "admin-2", later) }, errs.Invalid, nil},
		{"service account gains a role", service, func(u *user.User) error {
			return u.SetRoles([]user.Role{user.Service, user.Analyst}, "admin-2", later)
		}, 0, []user.Change{user.RolesChanged}},
		{"service account keeps service", service, func(u *user.User) error { return u.SetRoles([]user.Role{user.Analyst}, "admin-2", later) }, errs.Invalid, nil},
		{"deactivate", person, func(u *user.User) error { return u.Deactivate("admin-2", later) }, 0, []user.Change{user.Deactivated}},
		{"deactivate twice", person, func(u *user.User) error {
			_ = u.Deactivate("admin-2", later)
			return u.Deactivate("admin-2", later)
		}, 0, []user.Change{user.Deactivated}},
		{"deactivate self", person, func(u *user.User) error { return u.Deactivate("u1", later) }, errs.FailedPrecondition, nil},
		{"service account has no TOTP", service, func(u *user.User) error { return u.EnrolTOTP(later) }, errs.FailedPrecondition, nil},
		{"service account has no password", service, func(u *user.User) error { return u.PasswordChanged(later) }, errs.FailedPrecondition, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := tt.u()
			before := u.Snapshot()
			err := tt.apply(u)
			if errs.KindOf(err) != tt.kind {
				t.Fatalf("error %v, want kind %v", err, tt.kind)
			}
			if !slices.Equal(u.Changes(), tt.changes) {
				t.Errorf("changes %v, want %v", u.Changes(), tt.changes)
			}
			if len(tt.changes) == 0 && u.UpdatedAt() != before.UpdatedAt {
				t.Error("UpdatedAt moved without a change")
			}
			if len(tt.changes) > 0 && !u.UpdatedAt().Equal(later) {
				t.Errorf("UpdatedAt %v, want %v", u.UpdatedAt(), later)
			}
		})
	}
}

func TestFullSession(t *testing.T) {
	t.Parallel()
	u, err := user.New("u", "a@example.com", "A", []user.Role{user.Engineer}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.EnrolTOTP(now); err != nil {
		t.Fatal(err)
	}
	if u.FullSessionAllowed() {
		t.Fatal("full session before the one-time password was changed")
	}
	if err := u.PasswordChanged(now); err != nil {
		t.Fatal(err)
	}
	if !u.FullSessionAllowed() {
		t.Fatal("no full session after TOTP and password change")
	}
	_ = u.Deactivate("admin", now)
	if u.FullSessionAllowed() {
		t.Fatal("full session for a deactivated user")
	}
}

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pw, email string
		ok              bool
	}{
		{"long enough", "correct horse battery", "a@example.com", true},
		{"exactly 12", "abcdefghij12", "a@example.com", true},
		{"11 characters", "abcdefghij1", "a@example.com", false},
		{"12 runes of multibyte", "ääääääääääöö", "a@example.com", true},
		{"the email", "Alice.Smith@Example.com", "alice.smith@example.com", false},
		{"the local part", "alice.smithxyz", "alice.smithxyz@example.com", false},
		{"repeated", "aaaaaaaaaaaaaa", "a@example.com", false},
		{"well known", "Password1234", "a@example.com", false},
		{"too long", strings.Repeat("ab", 129), "a@example.com", false},
		{"service account", "abcdefghijklmnop", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := user.CheckPassword("new_password", tt.pw, tt.email)
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPassword = %v, want ok %v", err, tt.ok)
			}
			if err != nil {
				if f := fields(err); !slices.Equal(f, []string{"new_password"}) {
					t.Errorf("fields %v", f)
				}
				if strings.Contains(err.Error(), tt.pw) {
					t.Errorf("error quotes the password: %v", err)
				}
			}
		})
	}
}
