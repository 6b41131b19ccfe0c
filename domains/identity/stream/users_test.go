package stream_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/governance/rule"
	"meshwork.dev/platform/dataproduct"
)

// TestProductPassesGovernance checks the declaration as the catalog will at registration.
func TestProductPassesGovernance(t *testing.T) {
	t.Parallel()
	if err := stream.Users.Validate(); err != nil {
		t.Fatal(err)
	}
	d := stream.Users.Descriptor()
	for _, f := range rule.Check(d) {
		t.Errorf("governance: %s", f)
	}
	if d.GetName() != "identity.users.v1" || d.GetStream() != "IDENTITY_USERS_V1" {
		t.Errorf("descriptor %s on %s", d.GetName(), d.GetStream())
	}
	var pii []string
	for _, f := range d.GetPiiFields() {
		pii = append(pii, f.GetPath())
	}
	for _, f := range []string{"email", "display_name", "user_id"} {
		if !slices.Contains(pii, f) {
			t.Errorf("PII fields %v lack %s", pii, f)
		}
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	u, err := user.New("0192f0c4-7d1e-7cc0-9b5e-3f1a2b3c4d5e", "alice@example.com", "Alice", []user.Role{user.Engineer, user.Analyst}, now)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := stream.Message(context.Background(), u, user.Registered)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "dp.identity.users.v1."+u.ID() || msg.Header.Get(dataproduct.HeaderMsgID) == "" ||
		msg.Header.Get(dataproduct.HeaderType) != "mesh.identity.v1.UserChanged" {
		t.Errorf("message %s %v", msg.Subject, msg.Header)
	}
	var ev identityv1.UserChanged
	if err := proto.Unmarshal(msg.Data, &ev); err != nil {
		t.Fatal(err)
	}
	want := &identityv1.UserChanged{
		UserId: u.ID(), Kind: identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED, Email: "alice@example.com",
		DisplayName: "Alice", Roles: []identityv1.Role{identityv1.Role_ROLE_ENGINEER, identityv1.Role_ROLE_ANALYST},
		Active: true, OccurredAt: stream.Event(u, user.Registered).GetOccurredAt(),
	}
	if !proto.Equal(&ev, want) {
		t.Errorf("event %v, want %v", &ev, want)
	}
	if _, err := stream.Message(context.Background(), u, user.Change(99)); err == nil {
		t.Error("unknown change accepted")
	}
}
