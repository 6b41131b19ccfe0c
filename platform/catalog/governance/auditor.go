package governance

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
)

// Auditor writes audit entries that have no database change behind them (refused
// connections, refused decisions) straight to governance.audit.v1, from a bounded queue so
// the callout never waits on it. Entries beyond the queue are counted in Dropped and logged.
type Auditor struct {
	js      jetstream.JetStream
	queue   chan *platformv1.AuditEntry
	log     *slog.Logger
	dropped atomic.Int64
}

// auditQueue bounds the entries waiting to be written.
const auditQueue = 4096

// NewAuditor returns an auditor publishing through js; Run writes.
func NewAuditor(js jetstream.JetStream, log *slog.Logger) *Auditor {
	if log == nil {
		log = slog.Default()
	}
	return &Auditor{js: js, queue: make(chan *platformv1.AuditEntry, auditQueue), log: log}
}

// Record queues e.
func (a *Auditor) Record(e *platformv1.AuditEntry) {
	select {
	case a.queue <- e:
	default:
		if a.dropped.Add(1)%100 == 1 {
			a.log.Error("audit queue full: entries dropped", "dropped", a.dropped.Load())
		}
	}
}

// Dropped is how many entries did not fit the queue.
func (a *Auditor) Dropped() int64 { return a.dropped.Load() }

// Run writes queued entries until ctx ends, retrying each a few times.
func (a *Auditor) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-a.queue:
			key := e.GetAction()
			if i := indexDot(key); i > 0 {
				key = key[:i]
			}
			for attempt := 0; attempt < 5; attempt++ {
				msg, err := dataproduct.NewMessage(ctx, Audit, key, e, dataproduct.WithEventID(e.GetId()))
				if err == nil {
					pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					_, err = a.js.PublishMsg(pctx, msg)
					cancel()
				}
				if err == nil {
					break
				}
				a.log.Warn("audit entry not written yet", "action", e.GetAction(), "attempt", attempt+1, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Duration(attempt+1) * 200 * time.Millisecond):
				}
			}
		}
	}
}

func indexDot(s string) int {
	for i := range len(s) {
		if s[i] == '.' {
			return i
		}
	}
	return -1
}
