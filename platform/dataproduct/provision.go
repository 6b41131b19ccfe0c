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

// provisionAttempts bounds the create/update race between processes provisioning together.
const provisionAttempts = 5

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
	var (
		s   jetstream.Stream
		err error
	)
	for range provisionAttempts {
		// Losing a concurrent create to an identical declaration reports "name in use":
		// the next round updates the stream the winner created.
		s, err = js.CreateOrUpdateStream(ctx, cfg)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			break
		}
	}
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

// ensureDeadLetter creates the DEADLETTER stream if it is missing. It never updates an
// existing one: the stream is shared, so the first product to provision it decides its
// replica count and operators may tune it afterwards.
func ensureDeadLetter(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.Stream(ctx, DeadLetterStream)
	if err == nil {
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return NATSError("dataproduct.ensureDeadLetter", "stream "+DeadLetterStream, err)
	}
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "Poison messages of every data product consumer: dlq.<consumer-domain>.<product id>",
		Subjects:    []string{DeadLetterPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      DeadLetterRetention,
		Replicas:    replicas,
		Storage:     jetstream.FileStorage,
		Discard:     jetstream.DiscardOld,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return NATSError("dataproduct.ensureDeadLetter", "create stream "+DeadLetterStream, err)
	}
	return nil
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
