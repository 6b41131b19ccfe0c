// Package dataproduct is how a domain declares, provisions, publishes and consumes data
// products: JetStream streams of protobuf events with CloudEvents headers, one stream per
// product, owned by the producing domain.
//
// # Declare
//
// A Product names the product and its contract:
//
//	var CleanReadings = dataproduct.Product{
//		Domain: "quality", Name: "clean-readings", Major: 1,
//		Owner: "quality-team", Contact: "#quality",
//		Message: &qualityv1.CleanReading{}, Classification: dataproduct.ClassInternal,
//		Freshness: time.Minute, KeyDescription: "machine id",
//	}
//
// From it follow every name the mesh agrees on:
//
//	ID()                    quality.clean-readings.v1
//	StreamName()            QUALITY_CLEAN_READINGS_V1
//	Subject(key)            dp.quality.clean-readings.v1.<key>
//	SubjectFilter()         dp.quality.clean-readings.v1.>
//	DurableName("sched")    sched--quality_clean-readings_v1
//	DeadLetterSubject("s")  dlq.s.quality.clean-readings.v1
//	SchemaRef()             urn:meshwork:schema:quality.clean-readings.v1:mesh.quality.v1.CleanReading
//
// NATS consumer names may not contain dots, so the durable <consumer-domain>--<product>
// spells the product id with underscores. A key is one subject token: no dots, spaces or
// wildcards. Descriptor renders the product for the catalog, with the payload's
// FileDescriptorSet and the fields marked with the (mesh.platform.v1.pii) option. Unset
// retention, duplicate window and replicas default to 7 days, 10 minutes and 1.
//
// # Provision
//
// Provision creates or updates the product's stream (file storage, limits retention with
// MaxAge = Retention, the duplicate window, replicas, and metadata naming owner, domain,
// product, schema and classification) and creates the shared DEADLETTER stream (dlq.>,
// 14 days) if it is missing. It is idempotent and safe from several processes at once.
//
// # Publish
//
// A Publisher sends events synchronously (Publish waits for the stream's ack) or
// asynchronously (PublishAsync, with a bounded number of acks in flight; Flush and Close
// wait for them and report every failure, which also reaches an optional error handler).
// NewMessage builds the same message without sending it, for the transactional outbox.
// Every event carries, in the CloudEvents NATS binding's binary mode:
//
//	ce-specversion  1.0
//	ce-id           the event id, a UUIDv7 unless WithEventID is given
//	Nats-Msg-Id     the event id again, so the stream drops a republished event
//	ce-source       /domains/<domain>
//	ce-type         the payload's full protobuf name
//	ce-time         RFC 3339 UTC, now unless WithEventTime is given
//	ce-subject      the key
//	ce-dataschema   the SchemaRef
//	content-type    application/protobuf
//	traceparent     W3C trace context from ctx (and tracestate), via the global propagator
//
// The payload must be of the product's message type. Each publish has a producer span.
//
// # Subscribe
//
// Subscribe consumes a product through the durable pull consumer of a consumer domain,
// creating it if needed. Replicas subscribing with the same consumer domain share the
// durable, so the server splits the events between them. A new durable starts at the
// oldest retained event unless StartSeq or StartTime says otherwise; an existing durable
// resumes where it is. Key restricts it to one key.
//
// The Handler gets an Event with the headers, the stream position and the payload decoded
// into a new instance of the product's type, and a context carrying a consumer span that
// continues the producer's trace. Delivery is at least once, so handlers are idempotent,
// keyed on Event.ID. Outcomes:
//
//   - nil: the event is acknowledged.
//   - an error (or a panic, recovered): the event is redelivered after Backoff for that
//     attempt, until MaxDeliver attempts have failed; then it is dead-lettered.
//   - an error wrapped with Permanent: dead-lettered at once.
//   - a malformed message — ce-specversion other than 1.0, no ce-id, a ce-type other than
//     the product's, an unparsable ce-time or a payload that does not decode — is
//     dead-lettered without calling the handler, and the consumer goes on.
//   - no outcome (a crashed replica, a delivery left buffered past AckWait): the server
//     redelivers after AckWait; a delivery beyond MaxDeliver is dead-lettered without
//     calling the handler. A handler that is still running is not redelivered: the
//     delivery is reported in progress every half AckWait until the handler returns.
//
// Dead-lettering publishes the original payload and headers to
// dlq.<consumer-domain>.<product id> (stored by DEADLETTER), adding dlq-reason, dlq-stream,
// dlq-sequence, dlq-subject, dlq-consumer, dlq-deliveries and dlq-time, and only then
// terminates the original delivery; if that publish fails the event is redelivered instead,
// so nothing is dropped. The copy's Nats-Msg-Id is <durable>:<stream>:<sequence>, so a
// repeated attempt is stored once while two consumer domains giving up on the same event
// each leave their own copy.
//
// # Rules
//
// Product.Rules are data-quality rules (package rules): CEL expressions over `event` (the
// payload) and `key`, compiled by Validate against the payload type and registered with the
// descriptor. Each has a policy:
//
//   - reject: Publish, PublishAsync, NewMessage and Builder refuse the event with errs.Invalid
//     whose violation field is rules.<rule id>; a consumer receiving one anyway dead-letters it.
//   - dead-letter: the event is published; consumers dead-letter it, with dlq-rule: <rule id>.
//   - count: the event goes through (Event.Violations lists the failed rules).
//
// Every violation is recorded on the shared RULEVIOLATIONS stream (created by Provision and
// Subscribe for a product with rules) as violations.<reporter-domain>.<product id>.<rule>.<side>,
// de-duplicated per event, rule and side, without the payload; ViolationCounts reads the counts
// the catalog shows. The publisher records side publish (NewMessage and Builder have no
// connection: they only reject, and consumers count the rest), consumers side consume.
//
// Subscription.Drain finishes the events already fetched and returns; Subscription.Stop
// cancels the handlers' contexts and returns once they have. Both are bounded by their
// context and are how a service shuts down.
package dataproduct
