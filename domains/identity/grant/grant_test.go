package grant_test

import (
	"slices"
	"testing"
	"time"

	"meshwork.dev/domains/identity/grant"
	"meshwork.dev/platform/errs"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestNew(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		app        string
		scopes     []string
		expires    time.Time
		wantFields []string
	}{
		{"ok", "quality", []string{"quality:write", "quality:read", "quality:read"}, now.Add(time.Hour), nil},
		{"dotted action", "files", []string{"files:reports.read"}, now.Add(time.Hour), nil},
		{"no scopes", "quality", nil, now.Add(time.Hour), []string{"scopes"}},
		{"scope of another app", "quality", []string{"files:read"}, now.Add(time.Hour), []string{"scopes[0]"}},
		{"no action", "quality", []string{"quality:"}, now.Add(time.Hour), []string{"scopes[0]"}},
		{"upper case", "quality", []string{"quality:Read"}, now.Add(time.Hour), []string{"scopes[0]"}},
		{"reserved", "identity", []string{"identity:enroll"}, now.Add(time.Hour), []string{"scopes[0]"}},
		{"bad application", "Quality!", []string{"Quality!:read"}, now.Add(time.Hour), []string{"application"}},
		{"past expiry", "quality", []string{"quality:read"}, now, []string{"expires_at"}},
		{"no expiry", "quality", []string{"quality:read"}, time.Time{}, []string{"expires_at"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g, err := grant.New("g1", "u1", tt.app, tt.scopes, tt.expires, "admin", now)
			var got []string
			for _, v := range errs.Violations(err) {
				got = append(got, v.Field)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Fatalf("violations %v (%v), want %v", got, err, tt.wantFields)
			}
			if err == nil && !slices.IsSorted(g.Scopes()) {
				t.Errorf("scopes %v not sorted", g.Scopes())
			}
		})
	}
}

func TestActiveScopes(t *testing.T) {
	t.Parallel()
	mk := func(app string, scopes []string, expires time.Time) *grant.Grant {
		g, err := grant.New("g", "u1", app, scopes, expires, "admin", now)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	a := mk("quality", []string{"quality:read", "quality:write"}, now.Add(2*time.Hour))
	b := mk("files", []string{"files:read"}, now.Add(time.Hour))
	c := mk("quality", []string{"quality:read"}, now.Add(3*time.Hour))
	all := []*grant.Grant{a, b, c}

	if got := grant.ActiveScopes(all, now); !slices.Equal(got, []string{"files:read", "quality:read", "quality:write"}) {
		t.Errorf("now: %v", got)
	}
	if got := grant.ActiveScopes(all, now.Add(90*time.Minute)); !slices.Equal(got, []string{"quality:read", "quality:write"}) {
		t.Errorf("after b expired: %v", got)
	}
	if !a.Revoke(now) || a.Revoke(now) {
		t.Error("Revoke should report true once")
	}
	if got := grant.ActiveScopes(all, now); !slices.Equal(got, []string{"files:read", "quality:read"}) {
		t.Errorf("after a was revoked: %v", got)
	}
}
