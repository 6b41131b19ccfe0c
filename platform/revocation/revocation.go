// Package revocation keeps a service's auth.Revocations up to date from identity.users.v1, so
// the service refuses the tokens of an account identity has deactivated, and the tokens issued
// before an account's roles changed, at once rather than when they expire (≤ 15 min).
//
// It reads the product's redacted view (natsauth.ViewStream), the one every service account is
// granted without asking: the names and emails are hashed there, and the account's id is taken
// from the subject, dpv.identity.users.v1.<user id>, which the view keeps.
//
// Follow replays the product's history in order (an ordered consumer, no durable state: a
// restart reads it again — accounts change rarely, so the history is small) and then follows
// each new event. Until the replay has reached a revocation, a token it takes back is still
// accepted; a deactivation stays in force after a restart.
package revocation

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/natsauth"
)

// Users is identity.users.v1 as this package reads it; identity declares, provisions and
// publishes it.
var Users = dataproduct.Product{Domain: "identity", Name: "users", Major: 1, Message: &identityv1.UserChanged{}}

// viewPrefix starts the subjects of the redacted view, before the user id.
var viewPrefix = natsauth.ViewPrefix + Users.ID() + "."

// retry is how long Follow waits before trying again after the stream was missing (identity
// has not started yet) or the consumer failed.
const retry = 2 * time.Second

// Follow applies identity.users.v1 to r until ctx ends, then returns nil. It waits for the
// stream while identity has not created it and starts over after a failure, logging both.
func Follow(ctx context.Context, js jetstream.JetStream, r *auth.Revocations, log *slog.Logger) error {
	if log == nil {
		log = slog.Default()
	}
	for {
		err := follow(ctx, js, r, log)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			log.DebugContext(ctx, "revocation: waiting for identity.users.v1")
		} else {
			log.WarnContext(ctx, "revocation: following identity.users.v1; starting over", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(retry):
		}
	}
}

// follow reads until ctx ends or the consumer fails.
func follow(ctx context.Context, js jetstream.JetStream, r *auth.Revocations, log *slog.Logger) error {
	c, err := js.OrderedConsumer(ctx, natsauth.ViewStream(Users.ID()), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{viewPrefix + ">"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return err
	}
	failed := make(chan error, 1)
	cc, err := c.Consume(func(m jetstream.Msg) { apply(ctx, r, m, log) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrStreamNotFound) {
				select {
				case failed <- err:
				default:
				}
			}
		}))
	if err != nil {
		return err
	}
	defer cc.Stop()
	select {
	case <-ctx.Done():
		return nil
	case err := <-failed:
		return err
	}
}

// apply records one event: the account's activity and, for a deactivation or a roles change,
// the moment before which its tokens no longer hold.
func apply(ctx context.Context, r *auth.Revocations, m jetstream.Msg, log *slog.Logger) {
	var ev identityv1.UserChanged
	user, ok := strings.CutPrefix(m.Subject(), viewPrefix)
	if err := proto.Unmarshal(m.Data(), &ev); err != nil || !ok || user == "" || strings.Contains(user, ".") {
		log.WarnContext(ctx, "revocation: an identity.users.v1 event without a user; skipped", "subject", m.Subject())
		return
	}
	var since time.Time
	switch ev.GetKind() {
	case identityv1.UserChangeKind_USER_CHANGE_KIND_DEACTIVATED, identityv1.UserChangeKind_USER_CHANGE_KIND_ROLES_CHANGED:
		since = ev.GetOccurredAt().AsTime()
	}
	r.Set(user, ev.GetActive(), since)
}

// Start runs Follow in the background until ctx ends or the returned stop is called; stop
// waits for it to return. A service's run function defers it right after service.New:
//
//	defer revocation.Start(ctx, js, svc.Revocations(), svc.Logger())()
func Start(ctx context.Context, js jetstream.JetStream, r *auth.Revocations, log *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = Follow(ctx, js, r, log)
	}()
	return func() {
		cancel()
		<-done
	}
}
