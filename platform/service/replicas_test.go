package service_test

import (
	"testing"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/service"
)

// TestLoadConfigSetsStreamReplicas checks that NATS_REPLICAS reaches the streams dataproduct
// provisions, and that an impossible count is a config error naming the variable. It is not
// parallel: the replica count is the process's.
func TestLoadConfigSetsStreamReplicas(t *testing.T) {
	t.Cleanup(func() { _ = dataproduct.SetStreamReplicas(dataproduct.DefaultReplicas) })
	var c appConfig
	if err := service.LoadConfig(env(map[string]string{"DATABASE_URL": "x", "NATS_REPLICAS": "3"}), &c); err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if c.NATSReplicas != 3 || dataproduct.StreamReplicas() != 3 {
		t.Fatalf("NATSReplicas = %d, StreamReplicas = %d, want 3", c.NATSReplicas, dataproduct.StreamReplicas())
	}
	p := dataproduct.Product{Domain: "quality", Name: "clean-readings", Major: 1}
	if got := dataproduct.StreamConfig(p).Replicas; got != 3 {
		t.Errorf("stream replicas = %d, want 3", got)
	}
	p.Replicas = 1
	if got := dataproduct.StreamConfig(p).Replicas; got != 1 {
		t.Errorf("a product's own Replicas: stream replicas = %d, want 1", got)
	}
	err := service.LoadConfig(env(map[string]string{"DATABASE_URL": "x", "NATS_REPLICAS": "7"}), &c)
	if err == nil || err.Error() != "config: NATS_REPLICAS: must be between 1 and 5, got 7" {
		t.Errorf("NATS_REPLICAS=7: %v", err)
	}
	if dataproduct.StreamReplicas() != 3 {
		t.Errorf("a rejected count changed StreamReplicas to %d", dataproduct.StreamReplicas())
	}
}
