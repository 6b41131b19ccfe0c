// Package chaos is the mesh's chaos suite: it starts the whole mesh with `meshctl up` in a
// temporary directory, drives a bounded, numbered load through quality's ingest path on
// loopback, injects faults while the load runs (kill -9 of a domain replica, SIGSTOP of a
// consumer past its AckWait, an immediate Postgres restart, kill -9 of a NATS node process),
// then reads back what every product the load reaches has stored and counts, by event id
// (ce-id) and by the load's own sequence numbers, what was lost, duplicated or reordered per
// key, and the double bookings in scheduling's store.
//
// Count is the pure part (no I/O): given the inputs the load expects and the events a product
// holds in stream order, it finds the losses, duplicates and reorderings. Run is the rest.
// A fault the running mesh cannot take (NATS nodes inside the launcher's process) is reported
// as not available, never left out of the table. docs/chaos.md says how to read the table.
package chaos
