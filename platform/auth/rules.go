package auth

import (
	"slices"
	"strings"
)

// Rules says who may call each RPC, keyed by full method name ("/pkg.Service/Method", the
// generated ..._FullMethodName constants). A method missing from Rules is denied.
type Rules map[string]Rule

// Rule is the requirement for one RPC. Build it with Public, Authenticated, AnyRole or
// AllScopes, and combine with the AnyRole and AllScopes methods. The zero Rule denies every
// call.
type Rule struct {
	kind     ruleKind
	roleSets [][]string // each set: the bearer needs at least one of its roles
	scopes   []string   // the bearer needs all of these
}

type ruleKind uint8

const (
	ruleDeny ruleKind = iota
	rulePublic
	ruleAuthenticated
)

// Public lets anyone call, with or without a token. A valid token still puts Claims into the
// context; an invalid one is ignored.
func Public() Rule { return Rule{kind: rulePublic} }

// Authenticated lets any caller with a valid token call.
func Authenticated() Rule { return Rule{kind: ruleAuthenticated} }

// AnyRole requires a valid token whose bearer has at least one of roles. With no roles it
// matches nobody.
func AnyRole(roles ...string) Rule { return Authenticated().AnyRole(roles...) }

// AllScopes requires a valid token whose bearer has every one of scopes.
func AllScopes(scopes ...string) Rule { return Authenticated().AllScopes(scopes...) }

// AnyRole returns r that additionally requires at least one of roles, e.g.
// auth.AllScopes("quality:write").AnyRole("admin", "operator").
func (r Rule) AnyRole(roles ...string) Rule {
	return Rule{
		kind:     ruleAuthenticated,
		roleSets: append(slices.Clone(r.roleSets), slices.Clone(roles)),
		scopes:   r.scopes,
	}
}

// AllScopes returns r that additionally requires every one of scopes.
func (r Rule) AllScopes(scopes ...string) Rule {
	return Rule{
		kind:     ruleAuthenticated,
		roleSets: r.roleSets,
		scopes:   append(slices.Clone(r.scopes), scopes...),
	}
}

// Allows reports whether a caller with claims c (nil: no valid token) satisfies r.
func (r Rule) Allows(c *Claims) bool {
	switch r.kind {
	case rulePublic:
		return true
	case ruleAuthenticated:
		if c == nil {
			return false
		}
		for _, set := range r.roleSets {
			if !slices.ContainsFunc(set, c.HasRole) {
				return false
			}
		}
		for _, s := range r.scopes {
			if !c.HasScope(s) {
				return false
			}
		}
		return true
	default:
		return false
	}
}

// String describes r for people, e.g. "role admin or dispatcher and scope quality:write".
func (r Rule) String() string {
	switch r.kind {
	case rulePublic:
		return "public"
	case ruleDeny:
		return "nobody"
	}
	var parts []string
	for _, set := range r.roleSets {
		if len(set) == 0 {
			parts = append(parts, "a role from an empty list")
			continue
		}
		parts = append(parts, "role "+strings.Join(set, " or "))
	}
	if len(r.scopes) > 0 {
		parts = append(parts, "scope "+strings.Join(r.scopes, " and "))
	}
	if len(parts) == 0 {
		return "authenticated"
	}
	return strings.Join(parts, " and ")
}
