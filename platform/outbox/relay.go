package outbox

import (
	"fmt"
	"go.opentelemetry.io/otel/metric"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/errs"
)

// Defaults for the zero fields of RelayConfig.
const (
	DefaultBatchSize       = 100
	DefaultClaimTimeout    = 10 * time.Second
	DefaultPublishTimeout  = 2 * time.Second
	DefaultPollInterval    = time.Second
	DefaultRetryBackoff    = time.Second
	DefaultMaxRetryBackoff = time.Minute
)

// RelayConfig configures a Relay. Zero durations and sizes take the defaults above;
// DuplicateWindow has no default.
type RelayConfig struct {
	// Tables names the outbox table; the zero value is the default.
	Tables Tables
	// DuplicateWindow is the Duplicates window of the streams the outbox publishes to (the
	// smallest one, if they differ). Required: JetStream drops a re-published event only
	// inside this window, so the relay must know it to stay inside it.
	DuplicateWindow time.Duration
	// BatchSize is the most events claimed by one transaction.
	BatchSize int
	// ClaimTimeout bounds a batch transaction from claim to commit. The relay starts no
	// publish after half of it, and Postgres ends the session of a relay that stays silent
	// inside its transaction for a whole one, so claimed rows return to the table in time.
	ClaimTimeout time.Duration
	// PublishTimeout bounds one JetStream publish; at most a quarter of ClaimTimeout.
	PublishTimeout time.Duration
	// PollInterval is how often the relay looks for events when no notification wakes it.
	PollInterval time.Duration
	// RetryBackoff is the delay before an event's first retry; it doubles with each failed
	// attempt up to MaxRetryBackoff.
	RetryBackoff time.Duration
	// MaxRetryBackoff caps the delay between retries of one event.
	MaxRetryBackoff time.Duration
	// Logger receives failures, parked events and database errors; nil means slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the relay's metrics while Run runs (see Relay.Run); nil means
	// the global one, which platform/telemetry serves on /metrics.
	MeterProvider metric.MeterProvider
	// AfterPublish is a test hook, nil in production. It runs after JetStream acked an event
	// and before the batch commits; an error from it simulates a crash at that point: the
	// batch rolls back, leaving its events unpublished in the table although they are in the
	// stream, and Run returns the error.
	AfterPublish func(eventID string) error
}

// Horizon bounds the time from a publish whose outcome the relay cannot be sure of to the
// relay's re-publish of the same event (defaults applied): 3×ClaimTimeout + PollInterval +
// RetryBackoff. Two cases make the relay publish an event that may already be in the stream:
//
//   - A relay dies (or loses Postgres) after JetStream acked and before its commit. Its
//     claimed rows return to the table at most 2×ClaimTimeout after its claim (its own
//     deadline is ClaimTimeout; Postgres ends a session that stays silent inside a
//     transaction for ClaimTimeout); another relay looks within PollInterval and its publish
//     lands within ¾ ClaimTimeout of its claim.
//   - A publish gets no answer (a timeout), so the event may be stored. The failing batch
//     commits within ClaimTimeout of its claim, the retry waits RetryBackoff, is claimed
//     within PollInterval and lands within ¾ ClaimTimeout.
//
// An event whose publish went unanswered is claimed again only while less than
// DuplicateWindow − Horizon has passed since that publish's batch began, so the retry and
// any crash-recovery re-publish of the retry both land inside the window; once that time has
// passed the event is parked. NewRelay requires 2×Horizon < DuplicateWindow, so that at
// least the first retry always fits.
func (c RelayConfig) Horizon() time.Duration {
	c = c.withDefaults()
	return 3*c.ClaimTimeout + c.PollInterval + c.RetryBackoff
}

// withDefaults fills zero fields.
func (c RelayConfig) withDefaults() RelayConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	def(&c.ClaimTimeout, DefaultClaimTimeout)
	def(&c.PublishTimeout, DefaultPublishTimeout)
	def(&c.PollInterval, DefaultPollInterval)
	def(&c.RetryBackoff, DefaultRetryBackoff)
	def(&c.MaxRetryBackoff, DefaultMaxRetryBackoff)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// validate checks a config with defaults applied.
func (c RelayConfig) validate() error {
	switch {
	case c.DuplicateWindow <= 0:
		return fmt.Errorf("DuplicateWindow is required: set it to the stream's Duplicates window")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return fmt.Errorf("BatchSize %d is outside 1..10000", c.BatchSize)
	case c.ClaimTimeout < 0 || c.PublishTimeout < 0 || c.PollInterval < 0 ||
		c.RetryBackoff < 0 || c.MaxRetryBackoff < 0:
		return fmt.Errorf("durations must not be negative")
	case c.PublishTimeout*4 > c.ClaimTimeout:
		return fmt.Errorf("PublishTimeout %v is more than a quarter of ClaimTimeout %v", c.PublishTimeout, c.ClaimTimeout)
	case c.MaxRetryBackoff < c.RetryBackoff:
		return fmt.Errorf("MaxRetryBackoff %v is below RetryBackoff %v", c.MaxRetryBackoff, c.RetryBackoff)
	case 2*c.Horizon() >= c.DuplicateWindow:
		return fmt.Errorf("twice the re-publish horizon %v (3×ClaimTimeout + PollInterval + RetryBackoff) is not inside "+
			"DuplicateWindow %v: a re-publish after the window would not be de-duplicated", c.Horizon(), c.DuplicateWindow)
	}
	return nil
}

// backoff is the delay after the attempts-th failed attempt.
func (c RelayConfig) backoff(attempts int) time.Duration {
	d := c.RetryBackoff
	for i := 1; i < attempts && d < c.MaxRetryBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxRetryBackoff)
}

// Relay publishes the outbox's events to JetStream. Several relays (replicas) may run over
// one table: each claims its batch with FOR UPDATE SKIP LOCKED, so in normal operation every
// event is published once, and a re-publish after a failure is dropped by JetStream's
// de-duplication on Nats-Msg-Id.
type Relay struct {
	pool    *pgxpool.Pool
	js      jetstream.JetStream
	cfg     RelayConfig
	table   string // for logs
	q       queries
	running atomic.Bool
	stats   struct {
		published, duplicates, failed, parked, batches, dbErrors atomic.Uint64
	}
}

// NewRelay returns a relay over pool's outbox table publishing through js. It refuses (with
// an errs.Invalid error) a config whose re-publish Horizon is not inside DuplicateWindow, or
// whose values are out of range.
func NewRelay(pool *pgxpool.Pool, js jetstream.JetStream, cfg RelayConfig) (*Relay, error) {
	const op = "outbox.NewRelay"
	if pool == nil || js == nil {
		return nil, errs.E(op, errs.Invalid, "pool and JetStream are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "%w", err)
	}
	n, err := cfg.Tables.resolve()
	if err != nil {
		return nil, errs.Errorf(op, errs.Invalid, "%w", err)
	}
	return &Relay{pool: pool, js: js, cfg: cfg, table: n.channel, q: newQueries(n, cfg)}, nil
}

// Stats counts what one Relay did since it was created.
type Stats struct {
	// Published counts events published and committed as published.
	Published uint64
	// Duplicates counts the published events JetStream already had: re-publishes after a
	// crash or an unanswered publish, dropped by de-duplication.
	Duplicates uint64
	// Failed counts failed publish attempts, each recorded on its event for a retry.
	Failed uint64
	// Parked counts events this relay parked: they stay unpublished in the table until
	// Requeue. Tables.Backlog counts all parked events.
	Parked uint64
	// Batches counts committed batches; DBErrors counts batches lost to a database error.
	Batches, DBErrors uint64
}

// Stats returns the relay's counters; safe to call while Run runs.
func (r *Relay) Stats() Stats {
	s := &r.stats
	return Stats{
		Published: s.published.Load(), Duplicates: s.duplicates.Load(), Failed: s.failed.Load(),
		Parked: s.parked.Load(), Batches: s.batches.Load(), DBErrors: s.dbErrors.Load(),
	}
}
