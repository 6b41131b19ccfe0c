package dataproduct

import (
	"sync/atomic"

	"meshwork.dev/platform/errs"
)

// streamReplicas is the replica count of the streams of products that declare none.
var streamReplicas atomic.Int32

func init() { streamReplicas.Store(DefaultReplicas) }

// SetStreamReplicas sets the replica count given to the streams of products that declare no
// Replicas of their own (and to the shared DEADLETTER and RULEVIOLATIONS streams they create).
// It is a property of the NATS deployment, not of a product: 1 on a single server, 3 on a
// three-node cluster. platform/service calls it at start-up from NATS_REPLICAS, before the
// service provisions anything. n must be 1..5.
func SetStreamReplicas(n int) error {
	if n < 1 || n > maxReplicas {
		return errs.Errorf("dataproduct.SetStreamReplicas", errs.Invalid, "replicas must be between 1 and %d, got %d", maxReplicas, n)
	}
	streamReplicas.Store(int32(n))
	return nil
}

// StreamReplicas is the replica count set by SetStreamReplicas, DefaultReplicas until then.
func StreamReplicas() int { return int(streamReplicas.Load()) }
