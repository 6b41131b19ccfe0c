// Package partition consumes a data product split into N partitions by its subject key, each
// partition owned by exactly one replica of the consuming domain at a time.
//
// A product's subjects are dp.<domain>.<product>.v<major>.<key>. Join provisions, for one
// consumer domain, a work-queue stream that sources the product stream through the server's
// own subject transform
//
//	dp.<id>.*  ->  pt.<consumer-domain>.<id>.{{partition(N,1)}}.{{wildcard(1)}}
//
// so the server hashes every key (FNV-1a, the same as Of) into one of N partitions, and one
// durable pull consumer per partition, <consumer-domain>--<product>--p<i>. Every event of a
// key lands in the same partition, in stream order.
//
// # Ownership
//
// Replicas find each other through a key-value bucket whose entries live for Config.Lease:
// each replica refreshes members.<replica> and the owner.<partition> claims it holds every
// Config.Heartbeat. Every replica computes the same assignment from the live members (sorted,
// partition i to member i mod count) and claims its partitions with a create-if-absent write,
// so two replicas never own a partition at once, whatever their views of the membership.
//
//   - Join: the newcomer's partitions are released by their owners (which finish the events
//     already fetched, acknowledge them, call OnRevoked and delete the claim) and claimed by
//     the newcomer, which calls OnAssigned before its first event.
//   - Leave: the same, the other way round.
//   - Crash (process gone, connection closed, heartbeat lost): the claims expire after Lease,
//     then the survivors claim them. Lease is longer than AckWait plus a heartbeat, so the
//     dead replica's unacknowledged events are due for redelivery before the new owner's first
//     fetch and come first: per-key order holds across a takeover. A replica that cannot
//     refresh its claims for a Lease stops consuming them itself.
//
// OnAssigned and OnRevoked let a domain load and save per-partition state (per-sensor
// filters, per-vehicle positions): state moves with the partition. Handlers learn their
// partition with FromContext.
//
// # Delivery
//
// Delivery is package dataproduct's, through a dataproduct.Receiver: the handler is a
// dataproduct.Handler receiving a decoded dataproduct.Event (Key, Subject and Sequence are
// those of the product stream), explicit acks, redelivery with backoff up to MaxDeliver,
// Permanent errors and malformed events to the consumer domain's dead-letter subject (the
// copy names the product stream and sequence, as Subscribe's would), rule violations counted,
// keep-alive while a handler runs. Events of one partition are handled one at a time, in
// order; a failed event is retried after its backoff, so the events after it may pass it (as
// with dataproduct.Subscribe). JoinBatches hands the handler each fetch of a partition whole
// (a dataproduct.BatchHandler, one batch at a time per partition), for handlers that apply a
// batch in one transaction; a failed batch is delivered again one event at a time.
// Handlers are idempotent on Event.ID: a takeover redelivers what the dead owner had not
// acknowledged.
package partition
