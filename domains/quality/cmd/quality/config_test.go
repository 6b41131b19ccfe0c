package main

import (
	"context"
	"strings"
	"testing"
)

// TestBadPartitionCountStopsStartUp: a partition count out of range or not a number stops the
// service before it connects to anything, with an error naming QUALITY_PARTITIONS.
func TestBadPartitionCountStopsStartUp(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"0", "-3", "1025", "eight"} {
		env := map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/none", "NATS_URL": "nats://127.0.0.1:1",
			"QUALITY_PARTITIONS": v}
		err := run(context.Background(), func(k string) string { return env[k] })
		if err == nil || !strings.Contains(err.Error(), "QUALITY_PARTITIONS") {
			t.Errorf("QUALITY_PARTITIONS=%s: %v, want an error naming QUALITY_PARTITIONS", v, err)
		}
	}
}
