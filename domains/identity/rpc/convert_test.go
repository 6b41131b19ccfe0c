package rpc

import (
	"strings"
	"testing"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/user"
)

func TestRolesMapBothWays(t *testing.T) {
	t.Parallel()
	for _, r := range user.Roles {
		p := identityv1.Role(0)
		for pr, v := range identityv1.Role_value {
			if pr == "ROLE_"+strings.ToUpper(string(r)) {
				p = identityv1.Role(v)
			}
		}
		back, ok := roleFromProto(p)
		if !ok || back != r {
			t.Errorf("role %s ↔ %v ↔ %s", r, p, back)
		}
	}
	if _, ok := roleFromProto(identityv1.Role_ROLE_UNSPECIFIED); ok {
		t.Error("ROLE_UNSPECIFIED maps to a role")
	}
	if _, vs := rolesFromProto("roles", []identityv1.Role{identityv1.Role_ROLE_ADMIN, 42}); len(vs) != 1 || vs[0].Field != "roles[1]" {
		t.Errorf("violations %v", vs)
	}
}

func TestCursor(t *testing.T) {
	t.Parallel()
	q := fingerprint("users", "admin", "0")
	tok := encodeCursor(cursor{Key: "a@example.com", ID: "0192f0c4-7d1e-7cc0-9b5e-3f1a2b3c4d5e", Query: q})
	c, vs := decodeCursor(tok, q)
	if vs != nil || c.Key != "a@example.com" {
		t.Fatalf("round trip: %+v %v", c, vs)
	}
	for name, bad := range map[string]string{
		"other query": tok, "garbage": "!!!", "not json": "bm90IGpzb24",
		"bad id": encodeCursor(cursor{Key: "a", ID: "x", Query: q}),
	} {
		query := q
		if name == "other query" {
			query = fingerprint("users", "", "1")
		}
		if _, vs := decodeCursor(bad, query); len(vs) != 1 || vs[0].Field != "page_token" {
			t.Errorf("%s: %v", name, vs)
		}
	}
	if n, vs := pageSize(0); n != 50 || vs != nil {
		t.Errorf("default page size %d", n)
	}
	if n, _ := pageSize(10_000); n != 500 {
		t.Errorf("capped page size %d", n)
	}
	if _, vs := pageSize(-1); len(vs) != 1 {
		t.Error("negative page size accepted")
	}
}

func TestOneTimePasswordPassesThePolicy(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		p := OneTimePassword()
		if err := user.CheckPassword("password", p, "someone@example.com"); err != nil || seen[p] {
			t.Fatalf("one-time password %q: %v (repeat %v)", p, err, seen[p])
		}
		seen[p] = true
	}
}
