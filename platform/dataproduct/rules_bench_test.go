package dataproduct_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/platform/dataproduct"
)

// BenchmarkBuildRules measures what rules add to building one event (the publish path before
// the network): the same CleanReading built with no rules (the baseline) and with the three
// readingRules, all passing.
func BenchmarkBuildRules(b *testing.B) {
	msg := &qualityv1.CleanReading{MachineId: "m1", SensorId: "s1", Value: 20, SampledAt: timestamppb.Now()}
	for _, bc := range []struct {
		name  string
		rules bool
	}{{"baseline", false}, {"rules=3", true}} {
		p := newProduct()
		p.Message = &qualityv1.CleanReading{}
		if bc.rules {
			p.Rules = readingRules
		}
		bld, err := dataproduct.NewBuilder(p)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bld.Message(ctx, "m1", msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
