package outbox

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// backlogTimeout bounds the backlog query a metrics collection runs.
const backlogTimeout = 2 * time.Second

// registerMetrics exports the relay's counters and its table's backlog as OpenTelemetry
// observable instruments on mp, labelled with the table (outbox.table), for as long as Run
// runs: outbox.events.published, outbox.events.duplicates, outbox.publish.failures,
// outbox.events.parked (counters of this relay), outbox.backlog.pending,
// outbox.backlog.retrying, outbox.backlog.parked and outbox.backlog.oldest_age (seconds),
// which query the table at each collection. It returns the unregistration.
func (r *Relay) registerMetrics(mp metric.MeterProvider) (func() error, error) {
	m := mp.Meter("meshwork.dev/platform/outbox")
	var errs []error
	counter := func(name, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithDescription(desc), metric.WithUnit("{event}"))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithDescription(desc), metric.WithUnit("{event}"))
		errs = append(errs, err)
		return g
	}
	published := counter("outbox.events.published", "Events the relay published and recorded as published.")
	duplicates := counter("outbox.events.duplicates", "Published events JetStream already had (re-publishes dropped by de-duplication).")
	failures := counter("outbox.publish.failures", "Failed publish attempts, each recorded for a retry.")
	parked := counter("outbox.events.parked", "Events the relay parked: unpublished until Requeue.")
	pending := gauge("outbox.backlog.pending", "Unpublished events in the table.")
	retrying := gauge("outbox.backlog.retrying", "Unpublished events with a failed attempt, not parked.")
	parkedNow := gauge("outbox.backlog.parked", "Parked events in the table; alert on it.")
	oldest, err := m.Float64ObservableGauge("outbox.backlog.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest unpublished event; 0 when there is none."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	attrs := metric.WithAttributes(attribute.String("outbox.table", r.table))
	reg, err := m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		s := r.Stats()
		o.ObserveInt64(published, int64(s.Published), attrs)
		o.ObserveInt64(duplicates, int64(s.Duplicates), attrs)
		o.ObserveInt64(failures, int64(s.Failed), attrs)
		o.ObserveInt64(parked, int64(s.Parked), attrs)
		ctx, cancel := context.WithTimeout(ctx, backlogTimeout)
		defer cancel()
		b, err := r.cfg.Tables.Backlog(ctx, r.pool)
		if err != nil {
			return err // the counters above are still exported
		}
		o.ObserveInt64(pending, b.Pending, attrs)
		o.ObserveInt64(retrying, b.Retrying, attrs)
		o.ObserveInt64(parkedNow, b.Parked, attrs)
		o.ObserveFloat64(oldest, b.OldestAge.Seconds(), attrs)
		return nil
	}, published, duplicates, failures, parked, pending, retrying, parkedNow, oldest)
	if err != nil {
		return nil, err
	}
	return reg.Unregister, nil
}

// meterProvider is cfg's MeterProvider, or the global one.
func (c RelayConfig) meterProvider() metric.MeterProvider {
	if c.MeterProvider != nil {
		return c.MeterProvider
	}
	return otel.GetMeterProvider()
}
