// Package catalog is the data-product catalog's core: the rules for registering a product's
// contract, the queries over the registry, the freshness verdict and the lineage graph. It does
// no I/O; a Store (catalog/postgres) keeps the registry and an Observer (catalog/observe) reads
// what JetStream shows about a product's stream.
//
// # Registration
//
// An owner registers a DataProductDescriptor, the contract itself, which the core keeps as the
// protobuf message the owner sent (after Normalize) rather than copying it into Go structs.
// Register runs Check, then Decide:
//
//   - Check runs governance rule.Check. Error findings refuse the registration (errs.Invalid
//     with a field violation per finding naming its rule id, message and hint); warnings are
//     returned with the outcome.
//   - Decide runs inside the store's transaction, which holds the product's lock. The same
//     Fingerprint as the current revision changes nothing (same revision), so registering at
//     every start-up is idempotent. A new descriptor for a registered name must pass
//     compat.BreakingWithinMajor, otherwise the registration fails with
//     errs.FailedPrecondition wrapping a *BreakingChanges that lists every change; a
//     compatible change is the next revision. A new name is revision 1.
//
// The store saves every revision's descriptor and, in the same transaction, the change event
// for catalog.product-changes.v1 (package changes).
//
// # Observation
//
// Freshness compares the age of the newest event on the product's stream with the declared
// objective: FRESH when age ≤ objective, STALE when older, EMPTY when the stream holds no
// events, UNKNOWN when the stream is missing or could not be read. Durable consumers named
// "<consumer-domain>--<product id with _ for .>" name the domain that consumes a product
// (ConsumerDomain), which BuildLineage compares with the declared upstreams.
package catalog
