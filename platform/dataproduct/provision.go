package dataproduct

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/errs"
)

// Stream metadata keys Provision sets on a product's stream, so that `nats stream info`
// alone tells who owns a stream and what it holds.
const (
	MetaOwner          = "meshwork.owner"
	MetaDomain         = "meshwork.domain"
	MetaProduct        = "meshwork.product"
	MetaSchemaRef      = "meshwork.schema-ref"
	MetaClassification = "meshwork.classification"
)

// The shared dead-letter stream: every consumer's poison messages, kept for two weeks.
const (
	DeadLetterStream    = "DEADLETTER"
	DeadLetterPrefix    = "dlq."
	DeadLetterRetention = 14 * 24 * time.Hour
)

// provisionAttempts bounds the create/update race between processes provisioning together;
// provisionRequestTimeout bounds one attempt, provisionBackoff spaces them.
const (
	provisionAttempts       = 5
	provisionRequestTimeout = 5 * time.Second
	provisionBackoff        = 100 * time.Millisecond
)

// StreamConfig is the JetStream stream configuration Provision applies for p (after
// defaults): the product's subjects on file storage with limits retention.
func StreamConfig(p Product) jetstream.StreamConfig {
	d := p.withDefaults()
	return jetstream.StreamConfig{
		Name:        d.StreamName(),
		Description: d.Description,
		Subjects:    []string{d.SubjectFilter()},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      d.Retention,
		Duplicates:  d.DuplicateWindow,
		Replicas:    d.Replicas,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
		Metadata: map[string]string{
			MetaOwner:          d.Owner,
			MetaDomain:         d.Domain,
			MetaProduct:        d.ID(),
			MetaSchemaRef:      d.SchemaRef(),
			MetaClassification: d.Classification,
		},
	}
}

// Provision creates p's stream, or updates it to p's current declaration, and makes sure the
// shared DEADLETTER stream exists (and RULEVIOLATIONS, for a product with rules). It is idempotent and safe to call from several processes
// at once: the producing domain calls it at every start-up. A setting JetStream cannot change
// in place (storage, a subject already owned by another stream) fails with the server's reason.
func Provision(ctx context.Context, js jetstream.JetStream, p Product) (jetstream.Stream, error) {
	const op = "dataproduct.Provision"
	if err := p.Validate(); err != nil {
		return nil, errs.Wrap(op, err)
	}
	cfg := StreamConfig(p)
	s, err := createOrUpdate(ctx, js, cfg)
	if err != nil {
		return nil, NATSError(op, "stream "+cfg.Name, err)
	}
	if err := ensureDeadLetter(ctx, js, p.withDefaults().Replicas); err != nil {
		return nil, errs.Wrap(op, err)
	}
	if len(p.Rules) > 0 {
		if err := ensureViolations(ctx, js, p.withDefaults().Replicas); err != nil {
			return nil, errs.Wrap(op, err)
		}
	}
	return s, nil
}

// createOrUpdate creates the stream of cfg or updates it to cfg (see Concurrently).
func createOrUpdate(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	var s jetstream.Stream
	err := Concurrently(ctx, func(ctx context.Context) error {
		var err error
		s, err = js.CreateOrUpdateStream(ctx, cfg)
		return err
	})
	return s, err
}

// Concurrently runs one provisioning step (create or update a stream, bucket or consumer)
// that other processes may be running at the same moment, trying again when it lost to one
// of them. Losing a concurrent create to an identical declaration reports "name in use", and
// on a cluster a request that reaches the meta leader while it places another creator's
// stream can go unanswered: each attempt gets provisionRequestTimeout, and the next one finds
// (and updates, or checks) what the winner created. Other errors end it at once.
func Concurrently(ctx context.Context, step func(ctx context.Context) error) error {
	var err error
	for attempt := range provisionAttempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return errors.Join(ctx.Err(), err)
			case <-time.After(time.Duration(attempt) * provisionBackoff):
			}
		}
		actx, cancel := context.WithTimeout(ctx, provisionRequestTimeout)
		err = step(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !lostRace(err) {
			return err
		}
	}
	return err
}

// lostRace reports whether err may come from another process creating the same stream,
// bucket or consumer at the same time, so that trying again can succeed.
func lostRace(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// ensureShared creates the shared stream of cfg if it is missing, and never updates an
// existing one: the first product to provision it decides its replica count and operators
// may tune it afterwards.
func ensureShared(ctx context.Context, op string, js jetstream.JetStream, cfg jetstream.StreamConfig) error {
	err := Concurrently(ctx, func(ctx context.Context) error {
		_, err := js.Stream(ctx, cfg.Name)
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
		_, err = js.CreateStream(ctx, cfg)
		return err
	})
	if err != nil {
		return NATSError(op, "stream "+cfg.Name, err)
	}
	return nil
}

// ensureDeadLetter creates the DEADLETTER stream if it is missing (ensureShared).
func ensureDeadLetter(ctx context.Context, js jetstream.JetStream, replicas int) error {
	return ensureShared(ctx, "dataproduct.ensureDeadLetter", js, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "Poison messages of every data product consumer: dlq.<consumer-domain>.<product id>",
		Subjects:    []string{DeadLetterPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      DeadLetterRetention,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
	})
}

// NATSError wraps a NATS failure with op, classed Unavailable when the server could not be
// reached or did not answer in time, Internal otherwise. Packages building on dataproduct
// (partition) class their NATS failures with it too.
func NATSError(op, what string, err error) error {
	kind := errs.Internal
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrNoStreamResponse):
		kind = errs.Unavailable
	}
	return errs.Errorf(op, kind, "%s: %w", what, err)
}
