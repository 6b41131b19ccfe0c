// Package testinfra gives tests real servers: NATS (in-process, JetStream and MQTT), Postgres
// (Debian binaries), Redis (redis-server) and MongoDB (FerretDB in-process), all started through
// platform/localserver and always cleaned up.
//
// Lifecycle: a package that uses Postgres or Mongo calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testinfra.Main(m) }
//
// NATS and Redis are per call: each StartNATS or StartRedis starts its own server and registers
// a t.Cleanup that stops it and removes its directory. Postgres and FerretDB are shared: the
// first StartPostgres (or StartMongo) in the test binary starts one server, and every call gets
// its own freshly named database in it, dropped at the test's cleanup. Main stops the shared
// servers after m.Run and removes their directories, so no cluster outlives the test binary;
// StartPostgres and StartMongo fail the test when Main is not in use, because then nothing
// would stop them. Everything here is safe for parallel tests.
//
// A server that fails to start fails the test with the tail of its log; tests never skip.
package testinfra
