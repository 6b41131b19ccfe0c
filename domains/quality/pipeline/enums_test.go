package pipeline_test

import (
	"testing"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/readings"
)

// TestEveryFlagHasItsOwnContractValue: each of the filter's flags maps to one distinct,
// specified ReadingFlag, so no check a reading failed is published as UNSPECIFIED.
func TestEveryFlagHasItsOwnContractValue(t *testing.T) {
	seen := map[qualityv1.ReadingFlag]readings.Flag{}
	for _, f := range readings.AllFlags {
		got := pipeline.Flags(f)
		if len(got) != 1 || got[0] == qualityv1.ReadingFlag_READING_FLAG_UNSPECIFIED {
			t.Errorf("flag %v maps to %v, want one specified value", f, got)
			continue
		}
		if prev, dup := seen[got[0]]; dup {
			t.Errorf("flags %v and %v both map to %v", prev, f, got[0])
		}
		seen[got[0]] = f
	}
	if got := pipeline.Flags(readings.Noise); len(got) != 1 || got[0] != qualityv1.ReadingFlag_READING_FLAG_NOISE {
		t.Errorf("Flags(Noise) = %v, want READING_FLAG_NOISE", got)
	}
}

// TestEveryFaultHasItsOwnContractValue: a sensor declared faulty for any flag is published
// with one distinct, specified FaultType.
func TestEveryFaultHasItsOwnContractValue(t *testing.T) {
	seen := map[qualityv1.FaultType]readings.Flag{}
	for _, f := range readings.AllFlags {
		got := pipeline.FaultEvent(&readings.FaultEvent{Machine: "m-1", Sensor: "s-1", Fault: f}).GetFaultType()
		if got == qualityv1.FaultType_FAULT_TYPE_UNSPECIFIED {
			t.Errorf("fault %v is published as UNSPECIFIED", f)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("faults %v and %v both publish %v", prev, f, got)
		}
		seen[got] = f
	}
}
