package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/dataproduct"
)

// Consumers holds the subscriptions to the upstream products.
type Consumers struct {
	mu   sync.Mutex
	subs []*dataproduct.Subscription
	wg   sync.WaitGroup
}

// Durable returns the durable consumer name scheduling uses on p (scheduling--…).
func Durable(p dataproduct.Product) string { return p.DurableName(stream.Domain) }

// Start subscribes to the upstream products in the background, retrying every retry while a
// stream does not exist yet (its producer provisions it). Each identity and quality event
// changes the store once (outbox.Processed in the same transaction) and triggers a replan when
// it changed a job; a travel-times event asks for a debounced replan (see Run).
func Start(ctx context.Context, js jetstream.JetStream, store *postgres.Store, d *Dispatcher, log *slog.Logger, retry time.Duration) *Consumers {
	c := &Consumers{}
	handlers := map[string]dataproduct.Handler{
		stream.Users.ID(): dataproduct.Handle(func(ctx context.Context, ev *dataproduct.Event, m *identityv1.UserChanged) error {
			_, err := store.ApplyUser(ctx, Durable(stream.Users), ev.ID, UserChange(m))
			return err
		}),
		stream.MachineHealth.ID(): dataproduct.Handle(func(ctx context.Context, ev *dataproduct.Event, m *qualityv1.MachineHealth) error {
			h, ok := Health(m.GetStatus())
			if !ok || m.GetMachineId() == "" {
				return dataproduct.Permanent(errors.New("machine health without machine id or status"))
			}
			d.Locate(ctx, m.GetMachineId())
			r, _, err := store.ApplyHealth(ctx, Durable(stream.MachineHealth), ev.ID, postgres.HealthChange{
				MachineID: m.GetMachineId(), Health: h, Reason: m.GetReason(), At: at(m.GetAssessedAt().AsTime(), m.GetAssessedAt().IsValid())})
			if err == nil && r.ID != "" {
				d.replan(ctx)
			}
			return err
		}),
		stream.SensorFaults.ID(): dataproduct.Handle(func(ctx context.Context, ev *dataproduct.Event, m *qualityv1.SensorFault) error {
			if m.GetSensorId() == "" {
				return dataproduct.Permanent(errors.New("sensor fault without sensor id"))
			}
			d.Locate(ctx, m.GetMachineId())
			r, _, err := store.ApplyFault(ctx, Durable(stream.SensorFaults), ev.ID, postgres.FaultChange{
				MachineID: m.GetMachineId(), SensorID: m.GetSensorId(), Evidence: m.GetEvidence(), Cleared: m.GetCleared(),
				At: at(m.GetSince().AsTime(), m.GetSince().IsValid())})
			if err == nil && r.ID != "" {
				d.replan(ctx)
			}
			return err
		}),
		// Learned travel times changed: forget the cached ones and replan soon (debounced by Run).
		stream.TravelTimes.ID(): dataproduct.Handle(func(context.Context, *dataproduct.Event, *logisticsv1.CellTravelTimes) error {
			d.TravelChanged()
			return nil
		}),
	}
	configs := map[string]dataproduct.ConsumerConfig{
		// Only changes from now on matter to a cache: no replay of the retained history.
		stream.TravelTimes.ID(): {ConsumerDomain: stream.Domain, StartTime: time.Now()},
	}
	for _, p := range stream.Upstreams {
		cfg, ok := configs[p.ID()]
		if !ok {
			cfg = dataproduct.ConsumerConfig{ConsumerDomain: stream.Domain}
		}
		c.wg.Go(func() {
			for {
				sub, err := dataproduct.Subscribe(ctx, js, p, cfg, handlers[p.ID()])
				if err == nil {
					c.mu.Lock()
					c.subs = append(c.subs, sub)
					c.mu.Unlock()
					return
				}
				log.WarnContext(ctx, "subscribe: retrying", "product", p.ID(), "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(retry):
				}
			}
		})
	}
	return c
}

// Drain stops the subscriptions after their in-flight events.
func (c *Consumers) Drain(ctx context.Context) error {
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	var all error
	for _, s := range c.subs {
		all = errors.Join(all, s.Drain(ctx))
	}
	return all
}

// replan runs a replan and logs a failure: the event is applied either way, and the next
// event or API call replans again.
func (d *Dispatcher) replan(ctx context.Context) {
	if _, err := d.Replan(ctx); err != nil {
		d.log.WarnContext(ctx, "replan failed", "err", err)
	}
}

// UserChange maps identity's event: an engineer is an active person with the engineer role.
func UserChange(m *identityv1.UserChanged) postgres.UserChange {
	eng := m.GetActive() && !m.GetServiceAccount() && m.GetKind() != identityv1.UserChangeKind_USER_CHANGE_KIND_DEACTIVATED &&
		slices.Contains(m.GetRoles(), identityv1.Role_ROLE_ENGINEER)
	return postgres.UserChange{ID: m.GetUserId(), DisplayName: m.GetDisplayName(), Engineer: eng}
}

// Health maps quality's status.
func Health(s qualityv1.HealthStatus) (job.Health, bool) {
	switch s {
	case qualityv1.HealthStatus_HEALTH_STATUS_OK:
		return job.OK, true
	case qualityv1.HealthStatus_HEALTH_STATUS_WARN:
		return job.Warn, true
	case qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL:
		return job.Critical, true
	case qualityv1.HealthStatus_HEALTH_STATUS_ANOMALOUS_UNCONFIRMED:
		return job.Unconfirmed, true
	}
	return 0, false
}

func at(t time.Time, ok bool) time.Time {
	if !ok {
		return time.Now()
	}
	return t
}
