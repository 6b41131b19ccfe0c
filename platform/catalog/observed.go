package catalog

import (
	"regexp"
	"strings"
	"time"
)

// Observed is what JetStream showed about a product's stream at one moment.
type Observed struct {
	// At is when the state was read.
	At time.Time
	// Readable is false when JetStream could not be asked; Err says why.
	Readable bool
	// Err is the first failure while reading, if any (consumers may be missing after one).
	Err error
	// StreamExists reports whether the stream exists.
	StreamExists bool
	// Messages and Bytes are stored now; FirstSeq and LastSeq bound them.
	Messages, Bytes   uint64
	FirstSeq, LastSeq uint64
	// LastTime is when the newest stored message was stored.
	LastTime time.Time
	// Consumers are the stream's durable consumers, by name.
	Consumers []Consumer
	// Violations are the rule violations recorded for the product, by rule, side and
	// reporter; empty when none were recorded or the product has no rules.
	Violations []Violations
}

// Violations counts one rule's violations seen from one side (publish or consume) by one
// reporting domain.
type Violations struct {
	Rule, Side, Reporter string
	Count                uint64
}

// Consumer is one durable consumer of a product's stream.
type Consumer struct {
	// Name is the durable name.
	Name string
	// Domain is the consuming domain parsed from Name, "" when Name does not follow the
	// convention (see ConsumerDomain).
	Domain string
	// FilterSubjects are the subjects it reads.
	FilterSubjects []string
	// NumPending counts messages not yet delivered (the lag).
	NumPending uint64
	// NumAckPending counts delivered, unacknowledged messages; NumRedelivered redeliveries.
	NumAckPending, NumRedelivered uint64
	// LastActive is its last delivery or acknowledgement (zero if none).
	LastActive time.Time
}

// ConsumerDomains returns the distinct consuming domains among o's consumers, in order.
func (o Observed) ConsumerDomains() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range o.Consumers {
		if c.Domain != "" && !seen[c.Domain] {
			seen[c.Domain] = true
			out = append(out, c.Domain)
		}
	}
	return out
}

// FreshnessState is the freshness verdict.
type FreshnessState int

// Freshness verdicts.
const (
	// Unknown: the stream is missing or could not be read.
	Unknown FreshnessState = iota
	// Fresh: the newest event is no older than the objective.
	Fresh
	// Stale: the newest event is older than the objective.
	Stale
	// Empty: the stream holds no events.
	Empty
)

// String returns the verdict in capitals, as the API spells it.
func (s FreshnessState) String() string {
	return [...]string{"UNKNOWN", "FRESH", "STALE", "EMPTY"}[s]
}

// Freshness compares the newest event's age with the objective.
type Freshness struct {
	State FreshnessState
	// Age is the newest event's age (zero unless State is Fresh or Stale).
	Age time.Duration
	// Objective is the declared objective.
	Objective time.Duration
}

// Assess gives o's freshness against objective: Unknown when the stream is unreadable or
// missing, Empty when it holds no messages, Fresh when the newest is at most objective old (a
// clock skew making it look younger than zero counts as age zero), Stale otherwise. A zero
// objective means none was declared: any age is Fresh.
func Assess(o Observed, objective time.Duration) Freshness {
	f := Freshness{State: Unknown, Objective: objective}
	switch {
	case !o.Readable || !o.StreamExists:
		return f
	case o.Messages == 0:
		f.State = Empty
		return f
	}
	f.Age = max(o.At.Sub(o.LastTime), 0)
	f.State = Fresh
	if objective > 0 && f.Age > objective {
		f.State = Stale
	}
	return f
}

// kebab is a consuming domain's name.
var kebab = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// ConsumerDomain returns the consuming domain named by a durable consumer of productID, which
// by convention is "<consumer-domain>--<product id with _ for .>", e.g.
// "scheduling--quality_machine-health_v1". It returns "" for a name that does not follow the
// convention, including one naming another product.
func ConsumerDomain(durable, productID string) string {
	domain, rest, ok := strings.Cut(durable, "--")
	if !ok || !kebab.MatchString(domain) || rest != strings.ReplaceAll(productID, ".", "_") {
		return ""
	}
	return domain
}
