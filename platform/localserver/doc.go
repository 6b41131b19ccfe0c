// Package localserver starts real NATS, Postgres, Redis and FerretDB servers on this machine,
// with their data in a directory the caller chooses.
//
// It serves two callers: the `meshctl up` launcher, which keeps the data under .mesh/ so that it
// survives restarts, and platform/testinfra, which gives each test throwaway servers.
//
// Lifecycle: a Start function returns only once its server answers (NATS ready for connections,
// Postgres accepting queries, Redis answering PING, FerretDB accepting TCP connections), so the
// handle's URL can be used at once. Every handle has a stop method (Shutdown for NATS, Stop for
// the others) that waits until the server is gone and is safe to call more than once. Starting
// again on the same directory reuses the data that is there.
//
// NATS and FerretDB run inside the calling process; Postgres and Redis are child processes
// started from the machine's Debian packages. When the binaries are missing the error says in
// one line which package to install.
package localserver
