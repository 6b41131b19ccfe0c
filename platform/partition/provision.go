package partition

import (
	"context"
	"errors"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// metaPartitions is the work stream's metadata key holding N.
const metaPartitions = "meshwork.partitions"

// transform is the stream subject transform that partitions the product's keys.
func transform(p dataproduct.Product, n names, partitions int) jetstream.SubjectTransformConfig {
	return jetstream.SubjectTransformConfig{
		Source:      "dp." + p.ID() + ".*",
		Destination: n.prefix + "{{partition(" + strconv.Itoa(partitions) + ",1)}}.{{wildcard(1)}}",
	}
}

// workStream is the work-queue stream sourcing p through the partitioning transform, with
// the product stream's replica count. It starts, like a new durable, at the oldest retained
// event; the queue keeps only what is not yet acknowledged.
func workStream(p dataproduct.Product, n names, cfg Config, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        n.stream,
		Description: cfg.ConsumerDomain + " consuming " + p.ID() + " in " + strconv.Itoa(cfg.Partitions) + " partitions",
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Sources: []*jetstream.StreamSource{{
			Name:              p.StreamName(),
			SubjectTransforms: []jetstream.SubjectTransformConfig{transform(p, n, cfg.Partitions)},
		}},
		Metadata: map[string]string{
			metaPartitions:          strconv.Itoa(cfg.Partitions),
			dataproduct.MetaProduct: p.ID(),
			dataproduct.MetaDomain:  cfg.ConsumerDomain,
		},
	}
}

// provision creates (or checks) the work stream, the N partition consumers and the
// membership bucket, replicated like the product's stream (which the producer provisioned
// with the deployment's count). It is idempotent and safe from several replicas at once.
func provision(ctx context.Context, js jetstream.JetStream, p dataproduct.Product, n names, cfg Config) ([]jetstream.Consumer, jetstream.KeyValue, error) {
	const op = "partition.provision"
	product, err := js.Stream(ctx, p.StreamName())
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, nil, errs.Errorf(op, errs.FailedPrecondition, "stream %s of the product is not provisioned: %w", p.StreamName(), err)
		}
		return nil, nil, dataproduct.NATSError(op, "stream "+p.StreamName(), err)
	}
	replicas := product.CachedInfo().Config.Replicas
	if _, err := js.Stream(ctx, dataproduct.DeadLetterStream); err != nil {
		return nil, nil, errs.Errorf(op, errs.FailedPrecondition, "stream %s is missing (dataproduct.Provision creates it): %w", dataproduct.DeadLetterStream, err)
	}
	if err := ensureStream(ctx, js, workStream(p, n, cfg, replicas)); err != nil {
		return nil, nil, errs.Wrap(op, err)
	}
	consumers := make([]jetstream.Consumer, cfg.Partitions)
	for i := range consumers {
		want := jetstream.ConsumerConfig{
			Durable:       n.consumer(i),
			Description:   cfg.ConsumerDomain + " consuming partition " + strconv.Itoa(i) + " of " + p.ID(),
			FilterSubject: n.filter(i),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       cfg.AckWait,
			MaxDeliver:    -1, // enforced by the group, as dataproduct.Subscribe does
			DeliverPolicy: jetstream.DeliverAllPolicy,
		}
		err := dataproduct.Concurrently(ctx, func(ctx context.Context) error {
			var err error
			consumers[i], err = js.CreateOrUpdateConsumer(ctx, n.stream, want)
			return err
		})
		if err != nil {
			return nil, nil, dataproduct.NATSError(op, "consumer "+n.consumer(i), err)
		}
	}
	var kv jetstream.KeyValue
	err = dataproduct.Concurrently(ctx, func(ctx context.Context) error {
		var err error
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      n.bucket,
			Description: "membership and partition claims of " + cfg.ConsumerDomain + " consuming " + p.ID(),
			TTL:         cfg.Lease,
			Storage:     jetstream.MemoryStorage,
			Replicas:    replicas,
		})
		return err
	})
	if err != nil {
		return nil, nil, dataproduct.NATSError(op, "bucket "+n.bucket, err)
	}
	return consumers, kv, nil
}

// ensureStream creates the work stream, or checks that an existing one partitions the same
// product the same way: N cannot change under running consumers. Replicas joining together
// race on the create; the loser finds the winner's stream (dataproduct.Concurrently).
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) error {
	const op = "partition.ensureStream"
	var have string
	err := dataproduct.Concurrently(ctx, func(ctx context.Context) error {
		s, err := js.Stream(ctx, want.Name)
		if err == nil {
			have = s.CachedInfo().Config.Metadata[metaPartitions]
			return nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
		if _, err = js.CreateStream(ctx, want); err != nil {
			return err
		}
		have = want.Metadata[metaPartitions]
		return nil
	})
	if err != nil {
		return dataproduct.NATSError(op, "stream "+want.Name, err)
	}
	if have != want.Metadata[metaPartitions] {
		return errs.Errorf(op, errs.FailedPrecondition, "stream %s partitions into %s, not %s: a group's partition count is fixed (delete the stream and its consumers to change it)", want.Name, have, want.Metadata[metaPartitions])
	}
	return nil
}
