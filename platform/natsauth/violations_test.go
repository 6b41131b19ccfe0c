package natsauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/dataproduct"
)

// TestServiceRecordsOnlyOwnViolations: a service creates the shared RULEVIOLATIONS stream and
// records violations as itself, never as another domain.
func TestServiceRecordsOnlyOwnViolations(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx := context.Background()
	quality := m.service(t, "quality", "QUALITY_CLEAN_READINGS_V1")
	js, _ := jetstream.New(quality, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: dataproduct.ViolationStream, Subjects: []string{dataproduct.ViolationPrefix + ">"}}); err != nil {
		t.Fatalf("quality creates the violation stream: %v", err)
	}
	own := nats.NewMsg(dataproduct.ViolationSubject("quality", "quality.clean-readings.v1", "value-in-range", dataproduct.SidePublish))
	if _, err := js.PublishMsg(ctx, own); err != nil {
		t.Fatalf("quality records its own violation: %v", err)
	}
	forged := nats.NewMsg(dataproduct.ViolationSubject("scheduling", "quality.clean-readings.v1", "value-in-range", dataproduct.SideConsume))
	if _, err := js.PublishMsg(ctx, forged); err == nil {
		t.Fatal("quality recorded a violation as scheduling")
	}
}
