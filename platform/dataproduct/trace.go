package dataproduct

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// instrumentation is the tracer name of this package.
const instrumentation = "meshwork.dev/platform/dataproduct"

// newTracer returns this package's tracer from the global TracerProvider. Publishers and
// subscriptions take theirs when they are built: they use the provider installed then or,
// if none is yet, the first one installed later (the otel global delegates to it).
func newTracer() trace.Tracer {
	return otel.GetTracerProvider().Tracer(instrumentation)
}

// headerCarrier lets the global TextMapPropagator read and write W3C trace context
// (traceparent, tracestate) in NATS headers, which are case-sensitive: the propagator's
// lower-case keys are used as they are.
type headerCarrier nats.Header

var _ propagation.TextMapCarrier = headerCarrier(nil)

// Get returns the first value of key.
func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }

// Set replaces the values of key.
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }

// Keys lists the header names.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// injectTrace writes ctx's trace context into h with the global propagator. A context with
// neither a valid span nor baggage has nothing for the W3C propagators to write, so the
// call is skipped — the common case when tracing is off, kept cheap on the hot path.
func injectTrace(ctx context.Context, h nats.Header) {
	if !trace.SpanContextFromContext(ctx).IsValid() && baggage.FromContext(ctx).Len() == 0 {
		return
	}
	otel.GetTextMapPropagator().Inject(ctx, headerCarrier(h))
}

// extractTrace returns ctx carrying the remote trace context found in h.
func extractTrace(ctx context.Context, h nats.Header) context.Context {
	return otel.GetTextMapPropagator().Extract(ctx, headerCarrier(h))
}

// Span start options, built once: an option built per call is an allocation per event.
var (
	producerKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)}
	consumerKind = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

// startPublishSpan starts the producer span of one publication to a product; name is
// "send <product id>", precomputed to keep the hot path free of concatenations.
func startPublishSpan(ctx context.Context, tracer trace.Tracer, name, productID string) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, name, producerKind...)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.destination.name", productID),
		)
	}
	return ctx, span
}

// startProcessSpan starts the consumer span of one delivery; name is "process <product id>".
// ctx already carries the producer's trace context, so the span continues the producer's
// trace as a child of the producer span.
func startProcessSpan(ctx context.Context, tracer trace.Tracer, name, productID, consumer string) (context.Context, trace.Span) {
	ctx, span := tracer.Start(ctx, name, consumerKind...)
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", productID),
			attribute.String("messaging.consumer.group.name", consumer),
		)
	}
	return ctx, span
}

// recordEventAttrs adds per-event attributes to a recording span.
func recordEventAttrs(span trace.Span, id, subject string) {
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.message.id", id),
			attribute.String("messaging.destination.subject", subject),
		)
	}
}
