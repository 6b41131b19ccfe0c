// Package stream declares identity's data product, identity.users.v1, and builds its events.
// The postgres store enqueues one event per user change through the transactional outbox;
// the outbox relay publishes them. Events carry who the user is and what changed — never a
// password, hash, token, TOTP secret or client secret.
package stream

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Users is identity.users.v1: one mesh.identity.v1.UserChanged per change of an account,
// keyed by user id. Users change rarely, so the freshness objective (24 h) only says the
// product is alive on a working day; consumers that need every account replay the stream,
// which keeps a year.
var Users = dataproduct.Product{
	Domain:  "identity",
	Name:    "users",
	Major:   1,
	Owner:   "identity-team",
	Contact: "#meshwork-identity",
	Description: "Every account of the mesh — people and service accounts — as it is registered, " +
		"updated, given other roles or deactivated, keyed by user id. Confidential: emails and " +
		"names are personal data; no credential ever appears.",
	Tags:            []string{"identity", "users", "roles", "accounts"},
	Message:         &identityv1.UserChanged{},
	Classification:  dataproduct.ClassConfidential,
	Retention:       365 * 24 * time.Hour,
	DuplicateWindow: 10 * time.Minute, // the outbox relay needs it: keep it explicit
	Freshness:       24 * time.Hour,
	KeyDescription:  "user id",
	ServedBy:        []string{"mesh.identity.v1.IdentityService"},
}

var kinds = map[user.Change]identityv1.UserChangeKind{
	user.Registered:   identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED,
	user.Updated:      identityv1.UserChangeKind_USER_CHANGE_KIND_UPDATED,
	user.Deactivated:  identityv1.UserChangeKind_USER_CHANGE_KIND_DEACTIVATED,
	user.RolesChanged: identityv1.UserChangeKind_USER_CHANGE_KIND_ROLES_CHANGED,
}

// Roles maps domain roles to the contract's enum.
var Roles = map[user.Role]identityv1.Role{
	user.Admin:      identityv1.Role_ROLE_ADMIN,
	user.Dispatcher: identityv1.Role_ROLE_DISPATCHER,
	user.Engineer:   identityv1.Role_ROLE_ENGINEER,
	user.Analyst:    identityv1.Role_ROLE_ANALYST,
	user.Service:    identityv1.Role_ROLE_SERVICE,
}

// Event is the payload announcing change c of u, as u is after it.
func Event(u *user.User, c user.Change) *identityv1.UserChanged {
	ev := &identityv1.UserChanged{
		UserId:         u.ID(),
		Kind:           kinds[c],
		Email:          u.Email(),
		DisplayName:    u.DisplayName(),
		Active:         u.Active(),
		ServiceAccount: u.ServiceAccount(),
		OccurredAt:     timestamppb.New(u.UpdatedAt()),
	}
	for _, r := range u.Roles() {
		ev.Roles = append(ev.Roles, Roles[r])
	}
	return ev
}

// Message builds the event message for change c of u, ready for outbox.Enqueue: subject
// dp.identity.users.v1.<user id>, CloudEvents headers, a fresh event id, ce-time the change.
func Message(ctx context.Context, u *user.User, c user.Change) (*nats.Msg, error) {
	const op = "stream.Message"
	if _, ok := kinds[c]; !ok {
		return nil, errs.Errorf(op, errs.Internal, "unknown user change %d", c)
	}
	msg, err := dataproduct.NewMessage(ctx, Users, u.ID(), Event(u, c), dataproduct.WithEventTime(u.UpdatedAt()))
	return msg, errs.Wrap(op, err)
}
