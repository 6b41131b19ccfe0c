package user

import (
	"slices"
	"strings"
)

// Role is what an account may do across the mesh. Tokens carry roles by these lower-case
// names, and every service's auth rules name them.
type Role string

// The roles. Service is reserved for service accounts; people never hold it.
const (
	Admin      Role = "admin"
	Dispatcher Role = "dispatcher"
	Engineer   Role = "engineer"
	Analyst    Role = "analyst"
	Service    Role = "service"
)

// Roles lists every role, in the order the contract's enum declares them.
var Roles = []Role{Admin, Dispatcher, Engineer, Analyst, Service}

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// String returns the role's name.
func (r Role) String() string { return string(r) }

// normalizeRoles sorts roles into the order of Roles and drops duplicates, so that two role
// sets compare equal whenever they hold the same roles.
func normalizeRoles(roles []Role) []Role {
	out := slices.Clone(roles)
	slices.SortFunc(out, func(a, b Role) int {
		ia, ib := slices.Index(Roles, a), slices.Index(Roles, b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(string(a), string(b))
	})
	return slices.Compact(out)
}

// RoleNames returns roles as strings, for token claims.
func RoleNames(roles []Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}
