// Package user is the identity domain's core: accounts — people and service accounts — with
// their roles, and the rules for creating and changing them. It does no I/O; stores load a
// User, apply one of its methods and save it with the changes it recorded (Changes), which
// become the identity.users.v1 events.
package user

import (
	"slices"
	"time"

	"meshwork.dev/platform/errs"
)

// Change is what happened to a user, one identity.users.v1 event each.
type Change int

// The changes a User records.
const (
	// Registered: the account was created.
	Registered Change = iota + 1
	// Updated: profile fields changed.
	Updated
	// Deactivated: the account can no longer sign in.
	Deactivated
	// RolesChanged: the roles changed.
	RolesChanged
)

// User is an account. Its fields are unexported: it is created by New or NewServiceAccount,
// which validate, or restored from storage by FromSnapshot, and changed only through its
// methods, which keep these invariants: a person has an email, at least one role and never
// the service role; a service account has a name and always the service role.
type User struct {
	s       Snapshot
	changes []Change
}

// Snapshot is a User's state as storage keeps it. Stores fill it from their rows and read it
// back; nothing else should build one.
type Snapshot struct {
	ID                 string
	Email              string // people only, lower-case
	Name               string // service accounts only
	DisplayName        string
	Roles              []Role
	Active             bool
	ServiceAccount     bool
	TOTPEnrolled       bool
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// New returns a new, active person with roles, who must change the password they are
// given at first sign-in. email is normalised (NormalizeEmail). Every invalid field is
// reported in one Invalid error.
func New(id, email, displayName string, roles []Role, now time.Time) (*User, error) {
	const op = "user.New"
	var vs []errs.Violation
	e, err := NormalizeEmail("email", email)
	vs = append(vs, errs.Violations(err)...)
	name, err := checkDisplayName("display_name", displayName)
	vs = append(vs, errs.Violations(err)...)
	rs, err := checkPersonRoles(roles)
	vs = append(vs, errs.Violations(err)...)
	if id == "" {
		vs = append(vs, errs.Violation{Field: "id", Description: "is required"})
	}
	if len(vs) > 0 {
		return nil, errs.BadRequest(op, vs...)
	}
	u := &User{s: Snapshot{
		ID: id, Email: e, DisplayName: name, Roles: rs, Active: true, MustChangePassword: true,
		CreatedAt: now, UpdatedAt: now,
	}}
	u.changes = append(u.changes, Registered)
	return u, nil
}

// NewServiceAccount returns a new, active service account called name (CheckAccountName)
// with the service role. Its display name is its name.
func NewServiceAccount(id, name string, now time.Time) (*User, error) {
	const op = "user.NewServiceAccount"
	if err := CheckAccountName("name", name); err != nil {
		return nil, errs.Wrap(op, err)
	}
	if id == "" {
		return nil, errs.BadRequest(op, errs.Violation{Field: "id", Description: "is required"})
	}
	u := &User{s: Snapshot{
		ID: id, Name: name, DisplayName: name, Roles: []Role{Service}, Active: true,
		ServiceAccount: true, CreatedAt: now, UpdatedAt: now,
	}}
	u.changes = append(u.changes, Registered)
	return u, nil
}

// FromSnapshot restores a stored user. It trusts s: stores only hold what New and the
// methods produced.
func FromSnapshot(s Snapshot) *User {
	s.Roles = normalizeRoles(s.Roles)
	return &User{s: s}
}

// Snapshot returns the user's state for storage.
func (u *User) Snapshot() Snapshot {
	s := u.s
	s.Roles = slices.Clone(s.Roles)
	return s
}

// ID is the stable id (a UUID).
func (u *User) ID() string { return u.s.ID }

// Email is the lower-case address of a person; empty for a service account.
func (u *User) Email() string { return u.s.Email }

// Name is a service account's name; empty for a person.
func (u *User) Name() string { return u.s.Name }

// DisplayName is the name shown to people.
func (u *User) DisplayName() string { return u.s.DisplayName }

// Roles returns a copy of the roles, in the order of the package's Roles.
func (u *User) Roles() []Role { return slices.Clone(u.s.Roles) }

// HasRole reports whether the user holds r.
func (u *User) HasRole(r Role) bool { return slices.Contains(u.s.Roles, r) }

// Active reports whether the account may sign in.
func (u *User) Active() bool { return u.s.Active }

// ServiceAccount reports whether this is a service account.
func (u *User) ServiceAccount() bool { return u.s.ServiceAccount }

// TOTPEnrolled reports whether the person has confirmed a TOTP authenticator.
func (u *User) TOTPEnrolled() bool { return u.s.TOTPEnrolled }

// MustChangePassword reports whether the person still has the one-time password an admin
// created them with.
func (u *User) MustChangePassword() bool { return u.s.MustChangePassword }

// FullSessionAllowed reports whether a sign-in may get a full session: the person has
// enrolled TOTP and chosen their own password. Otherwise sign-in only gets an enrolment
// session.
func (u *User) FullSessionAllowed() bool {
	return u.s.Active && u.s.TOTPEnrolled && !u.s.MustChangePassword
}

// CreatedAt is when the account was created.
func (u *User) CreatedAt() time.Time { return u.s.CreatedAt }

// UpdatedAt is when the account last changed.
func (u *User) UpdatedAt() time.Time { return u.s.UpdatedAt }

// Changes returns what happened to the user since it was created or restored, in order.
func (u *User) Changes() []Change { return slices.Clone(u.changes) }

// record notes a change at now.
func (u *User) record(c Change, now time.Time) {
	u.changes = append(u.changes, c)
	u.s.UpdatedAt = now
}

// UpdateProfile sets the display name; an unchanged name records nothing.
func (u *User) UpdateProfile(displayName string, now time.Time) error {
	name, err := checkDisplayName("display_name", displayName)
	if err != nil {
		return errs.Wrap("user.UpdateProfile", err)
	}
	if name == u.s.DisplayName {
		return nil
	}
	u.s.DisplayName = name
	u.record(Updated, now)
	return nil
}

// SetRoles replaces the roles, acting for the account actorID. A person needs at least one
// role and never the service role; a service account keeps the service role. Nobody can take
// the admin role away from themselves, so an admin always remains. The same set records
// nothing.
func (u *User) SetRoles(roles []Role, actorID string, now time.Time) error {
	const op = "user.SetRoles"
	var rs []Role
	var err error
	if u.s.ServiceAccount {
		rs, err = checkServiceRoles(roles)
	} else {
		rs, err = checkPersonRoles(roles)
	}
	if err != nil {
		return errs.Wrap(op, err)
	}
	if actorID == u.s.ID && u.HasRole(Admin) && !slices.Contains(rs, Admin) {
		return errs.E(op, errs.FailedPrecondition, "you cannot remove your own admin role; ask another admin")
	}
	if slices.Equal(rs, u.s.Roles) {
		return nil
	}
	u.s.Roles = rs
	u.record(RolesChanged, now)
	return nil
}

// Deactivate stops the account from signing in, acting for actorID. Nobody can deactivate
// themselves. Deactivating an inactive account records nothing.
func (u *User) Deactivate(actorID string, now time.Time) error {
	if actorID == u.s.ID {
		return errs.E("user.Deactivate", errs.FailedPrecondition, "you cannot deactivate your own account")
	}
	if !u.s.Active {
		return nil
	}
	u.s.Active = false
	u.record(Deactivated, now)
	return nil
}

// EnrolTOTP marks a confirmed TOTP authenticator. It is not an event: identity.users.v1
// carries no authentication material, not even whether it exists.
func (u *User) EnrolTOTP(now time.Time) error {
	if u.s.ServiceAccount {
		return errs.E("user.EnrolTOTP", errs.FailedPrecondition, "service accounts use client credentials, not TOTP")
	}
	u.s.TOTPEnrolled = true
	u.s.UpdatedAt = now
	return nil
}

// PasswordChanged notes that the person chose a new password, which ends the obligation to
// replace a one-time password. Not an event, like EnrolTOTP.
func (u *User) PasswordChanged(now time.Time) error {
	if u.s.ServiceAccount {
		return errs.E("user.PasswordChanged", errs.FailedPrecondition, "service accounts have no password")
	}
	u.s.MustChangePassword = false
	u.s.UpdatedAt = now
	return nil
}

// MarkBootstrapped sets the state of the first admin, created by an operator with a random
// password and an enrolled authenticator: no password change is forced on them.
func (u *User) MarkBootstrapped(now time.Time) {
	u.s.TOTPEnrolled = true
	u.s.MustChangePassword = false
	u.s.UpdatedAt = now
}

// checkPersonRoles validates a person's roles and returns them normalised.
func checkPersonRoles(roles []Role) ([]Role, error) {
	rs := normalizeRoles(roles)
	for _, r := range rs {
		if !r.Valid() {
			return nil, errs.BadRequest("user.checkRoles", errs.Violation{Field: "roles", Description: "unknown role " + string(r)})
		}
		if r == Service {
			return nil, errs.BadRequest("user.checkRoles", errs.Violation{Field: "roles",
				Description: "the service role is for service accounts (CreateServiceAccount)"})
		}
	}
	if len(rs) == 0 {
		return nil, errs.BadRequest("user.checkRoles", errs.Violation{Field: "roles", Description: "at least one role is required"})
	}
	return rs, nil
}

// checkServiceRoles validates a service account's roles and returns them normalised.
func checkServiceRoles(roles []Role) ([]Role, error) {
	rs := normalizeRoles(roles)
	for _, r := range rs {
		if !r.Valid() {
			return nil, errs.BadRequest("user.checkRoles", errs.Violation{Field: "roles", Description: "unknown role " + string(r)})
		}
	}
	if !slices.Contains(rs, Service) {
		return nil, errs.BadRequest("user.checkRoles", errs.Violation{Field: "roles", Description: "a service account keeps the service role"})
	}
	return rs, nil
}
