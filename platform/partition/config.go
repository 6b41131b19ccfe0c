package partition

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/google/uuid"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Limits and defaults of a Config.
const (
	// MaxPartitions bounds Config.Partitions: each partition is a durable consumer.
	MaxPartitions = 1024
	// DefaultHeartbeat is how often a replica refreshes its membership and claims.
	DefaultHeartbeat = time.Second
	// DefaultFetchWait bounds one fetch, and so how long a revoked partition takes to stop.
	DefaultFetchWait = time.Second
	// DefaultBatch is how many events one fetch of a partition asks for.
	DefaultBatch = 100
)

// Config says who consumes a partitioned product, over how many partitions, and how.
type Config struct {
	// ConsumerDomain is the consuming domain (kebab-case); all its replicas form one group.
	ConsumerDomain string
	// Partitions is the number of partitions N (1..MaxPartitions). It is fixed for the group:
	// joining an existing group with another N fails.
	Partitions int
	// Replica names this replica (letters, digits, '-' and '_'; default: a fresh UUID). Two
	// live replicas must not share a name.
	Replica string
	// OnAssigned is called when the replica takes a partition, before its first event: load
	// the partition's state here. An error gives the partition up; it is retried a heartbeat
	// later.
	OnAssigned func(ctx context.Context, partition int) error
	// OnRevoked is called when the replica gives a partition up (rebalance, Leave), after its
	// last event was handled and acknowledged and before another replica may take it: save
	// the partition's state here. It is not called after a crash, nor after a lost claim.
	OnRevoked func(ctx context.Context, partition int) error
	// MaxDeliver, Backoff and AckWait are as in dataproduct.ConsumerConfig (defaults 5,
	// dataproduct.DefaultBackoff, dataproduct.DefaultAckWait).
	MaxDeliver int
	Backoff    []time.Duration
	AckWait    time.Duration
	// Heartbeat is how often membership and claims are refreshed and the assignment is
	// recomputed (default DefaultHeartbeat): the delay before a join or leave is acted on.
	Heartbeat time.Duration
	// Lease is how long a silent replica keeps its partitions (default AckWait + 2 Heartbeat);
	// it must exceed AckWait + Heartbeat, so a crashed owner's unacknowledged events are due
	// again before its partitions are taken over. Takeover after a crash takes about Lease.
	Lease time.Duration
	// Batch and FetchWait shape each partition's fetches (defaults DefaultBatch,
	// DefaultFetchWait); a revocation waits for the current fetch and its events.
	Batch     int
	FetchWait time.Duration
	// Logger receives what cannot be returned (default slog.Default()).
	Logger *slog.Logger
}

var replicaName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// withDefaults fills the zero settings of c.
func (c Config) withDefaults() Config {
	if c.Replica == "" {
		c.Replica = uuid.NewString()
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = dataproduct.DefaultMaxDeliver
	}
	if len(c.Backoff) == 0 {
		c.Backoff = dataproduct.DefaultBackoff
	}
	if c.AckWait == 0 {
		c.AckWait = dataproduct.DefaultAckWait
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = DefaultHeartbeat
	}
	if c.Lease == 0 {
		c.Lease = c.AckWait + 2*c.Heartbeat
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.FetchWait == 0 {
		c.FetchWait = DefaultFetchWait
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate reports every problem with c (after defaults) as one errs.Invalid error.
func (c Config) validate() error {
	var vs []errs.Violation
	bad := func(field, format string, args ...any) {
		vs = append(vs, errs.Violation{Field: field, Description: fmt.Sprintf(format, args...)})
	}
	if !kebab.MatchString(c.ConsumerDomain) {
		bad("ConsumerDomain", "%q is not a kebab-case name", c.ConsumerDomain)
	}
	if c.Partitions < 1 || c.Partitions > MaxPartitions {
		bad("Partitions", "must be between 1 and %d, got %d", MaxPartitions, c.Partitions)
	}
	if !replicaName.MatchString(c.Replica) {
		bad("Replica", "%q may hold only letters, digits, '-' and '_'", c.Replica)
	}
	if c.MaxDeliver < 1 {
		bad("MaxDeliver", "must be at least 1, got %d", c.MaxDeliver)
	}
	for i, d := range c.Backoff {
		if d <= 0 {
			bad("Backoff["+strconv.Itoa(i)+"]", "must be positive, got %s", d)
		}
	}
	if c.AckWait <= 0 {
		bad("AckWait", "must be positive, got %s", c.AckWait)
	}
	if c.Heartbeat <= 0 {
		bad("Heartbeat", "must be positive, got %s", c.Heartbeat)
	}
	if c.Lease <= c.AckWait+c.Heartbeat {
		bad("Lease", "must exceed AckWait + Heartbeat (%s), got %s: a takeover could overtake the crashed owner's unacknowledged events", c.AckWait+c.Heartbeat, c.Lease)
	}
	if c.Batch < 1 {
		bad("Batch", "must be at least 1, got %d", c.Batch)
	}
	if c.FetchWait <= 0 || c.FetchWait >= c.Lease {
		bad("FetchWait", "must be positive and shorter than Lease (%s), got %s", c.Lease, c.FetchWait)
	}
	if len(vs) > 0 {
		return errs.BadRequest("partition.Config", vs...)
	}
	return nil
}

var kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// Of is the partition, 0..n-1, the server assigns key to among n: FNV-1a (32 bits) of the
// key modulo n, as the subject transform partition(n, …) computes it. A domain uses it to
// find the keys whose state belongs to a partition. n must be at least 1.
func Of(key string, n int) int {
	if n < 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// partitionKey is the context key of the partition a handler runs for.
type partitionKey struct{}

// FromContext returns the partition whose event the handler holding ctx is processing.
func FromContext(ctx context.Context) (int, bool) {
	p, ok := ctx.Value(partitionKey{}).(int)
	return p, ok
}

// names are the NATS names of one consumer domain's partitioned consumption of a product.
type names struct {
	durable string // <consumer-domain>--<product>, as dataproduct.Product.DurableName
	stream  string // StreamName(p, consumer domain), the work-queue stream
	bucket  string // PT_<durable>, the membership bucket
	prefix  string // pt.<consumer-domain>.<product id>.
	dlq     string // the consumer domain's dead-letter subject for the product
}

func namesOf(p dataproduct.Product, consumerDomain string) names {
	durable := p.DurableName(consumerDomain)
	return names{
		durable: durable,
		stream:  StreamName(p, consumerDomain),
		bucket:  BucketOf(consumerDomain, p.ID()),
		prefix:  "pt." + consumerDomain + "." + p.ID() + ".",
		dlq:     p.DeadLetterSubject(consumerDomain),
	}
}

// StreamName is the work-queue stream of consumerDomain's partitioned consumption of p:
// <CONSUMER-DOMAIN>_PT_<product stream>, e.g. SCHEDULING_PT_QUALITY_MACHINE_HEALTH_V1. It lies
// in the consumer domain's stream namespace, so a service declares it at connect
// (service.ConnectNATS) to be allowed to manage it.
func StreamName(p dataproduct.Product, consumerDomain string) string {
	return StreamNameOf(consumerDomain, p.ID())
}

// StreamNameOf is StreamName for the product with id productID.
func StreamNameOf(consumerDomain, productID string) string {
	return dataproduct.StreamNameOf(consumerDomain + ".pt." + productID)
}

// BucketOf is the membership bucket of consumerDomain's partitioned consumption of the product
// with id productID: BucketPrefix(consumerDomain) and the product id with underscores for
// dots, e.g. PT_scheduling--quality_machine-health_v1. Its stream is KV_<bucket>, its
// subjects $KV.<bucket>.>.
func BucketOf(consumerDomain, productID string) string {
	return "PT_" + dataproduct.DurableNameOf(consumerDomain, productID)
}

// BucketPrefix starts the names of consumerDomain's membership buckets, PT_<consumer-domain>--.
// A kebab-case domain name holds no "--", so the prefix names one domain only.
func BucketPrefix(consumerDomain string) string { return "PT_" + consumerDomain + "--" }

// Streams are the streams consumerDomain's partitioned consumption of p manages: the work
// stream and the membership bucket's. A service consuming its own domain's product declares
// them at connect (service.ConnectNATS); for a product granted to it, natsauth allows them.
func Streams(p dataproduct.Product, consumerDomain string) []string {
	return []string{StreamName(p, consumerDomain), "KV_" + BucketOf(consumerDomain, p.ID())}
}

// consumer is the durable of partition i.
func (n names) consumer(i int) string { return n.durable + "--p" + strconv.Itoa(i) }

// filter is the work-stream subject filter of partition i.
func (n names) filter(i int) string { return n.prefix + strconv.Itoa(i) + ".*" }
