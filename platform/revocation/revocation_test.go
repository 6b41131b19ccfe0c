package revocation_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// TestFollowAppliesIdentityUsers starts following before identity has created its stream, then
// replays what identity published meanwhile (the latest event per account) and follows live
// changes: a deactivated account's tokens are refused, tokens issued before a roles change are
// refused and later ones accepted, a reactivated account's new tokens accepted.
func TestFollowAppliesIdentityUsers(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	js := testinfra.StartNATS(t).JetStream(t)
	revs := auth.NewRevocations()
	followCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- revocation.Follow(followCtx, js, revs, nil) }()

	// The redacted view, as the catalog keeps it: the user id only in the subject.
	view := natsauth.ViewStream(revocation.Users.ID())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: view, Subjects: []string{natsauth.ViewPrefix + revocation.Users.ID() + ".>"}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Truncate(time.Second)
	publish := func(kind identityv1.UserChangeKind, user string, active bool, at time.Time) {
		t.Helper()
		data, err := proto.Marshal(&identityv1.UserChanged{UserId: "pii:hashed-" + user, Email: "pii:x", Kind: kind, Active: active, OccurredAt: timestamppb.New(at)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(ctx, natsauth.ViewPrefix+"identity.users.v1."+user, data); err != nil {
			t.Fatal(err)
		}
	}
	publish(identityv1.UserChangeKind_USER_CHANGE_KIND_REGISTERED, "ann", true, t0.Add(-time.Hour))
	publish(identityv1.UserChangeKind_USER_CHANGE_KIND_DEACTIVATED, "ann", false, t0)
	publish(identityv1.UserChangeKind_USER_CHANGE_KIND_ROLES_CHANGED, "bob", true, t0)
	publish(identityv1.UserChangeKind_USER_CHANGE_KIND_UPDATED, "cy", true, t0)

	token := func(sub string, iat time.Time) *auth.Claims { return &auth.Claims{Subject: sub, IssuedAt: iat} }
	waitFor(t, "ann deactivated and bob's old tokens refused", func() bool {
		return revs.Check(token("ann", t0.Add(time.Minute))) != nil && revs.Check(token("bob", t0.Add(-time.Minute))) != nil
	})
	if err := revs.Check(token("bob", t0.Add(time.Minute))); err != nil {
		t.Errorf("bob's token after the roles change: %v", err)
	}
	if err := revs.Check(token("cy", t0.Add(-time.Hour))); err != nil {
		t.Errorf("cy's token (profile update only): %v", err)
	}

	publish(identityv1.UserChangeKind_USER_CHANGE_KIND_UPDATED, "ann", true, t0.Add(time.Minute))
	waitFor(t, "ann reactivated", func() bool { return revs.Check(token("ann", t0.Add(2*time.Minute))) == nil })
	if err := revs.Check(token("ann", t0.Add(-time.Minute))); err == nil {
		t.Error("ann's token from before the deactivation accepted after reactivation")
	}

	// A service starting now replays the history to the same state.
	fresh := auth.NewRevocations()
	freshCtx, stopFresh := context.WithCancel(ctx)
	defer stopFresh()
	go func() { _ = revocation.Follow(freshCtx, js, fresh, nil) }()
	waitFor(t, "a new follower's replay", func() bool { return fresh.Check(token("ann", t0.Add(-time.Minute))) != nil })
	if err := fresh.Check(token("ann", t0.Add(2*time.Minute))); err != nil {
		t.Errorf("replayed: ann's new token: %v", err)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Follow: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not return after its context ended")
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
