// Package e2e holds the end-to-end tests: the launcher's whole mesh (`meshctl up`), built
// from this checkout, driven with the clients users use — meshctl, grpcurl and the NATS CLI.
// The tests build every binary `make build` builds, install the pinned grpcurl and nats
// with `go install`, and run the mesh on offset ports so a developer's own `make run` is
// never disturbed.
package e2e
