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

// TestEveryStatusHasItsOwnContractValue: every machine health, "anomalous, unconfirmed"
// included, is published with one distinct, specified HealthStatus and its reason.
func TestEveryStatusHasItsOwnContractValue(t *testing.T) {
	seen := map[qualityv1.HealthStatus]readings.Status{}
	for _, s := range []readings.Status{readings.OK, readings.Warn, readings.Critical, readings.Unconfirmed} {
		h := pipeline.HealthEvent(&readings.HealthEvent{Machine: "m-1", Status: s, Reason: "why " + s.String()})
		if h.GetStatus() == qualityv1.HealthStatus_HEALTH_STATUS_UNSPECIFIED || h.GetReason() != "why "+s.String() {
			t.Errorf("status %v is published as %v (%q)", s, h.GetStatus(), h.GetReason())
		}
		if prev, dup := seen[h.GetStatus()]; dup {
			t.Errorf("statuses %v and %v both publish %v", prev, s, h.GetStatus())
		}
		seen[h.GetStatus()] = s
	}
	if got := pipeline.HealthEvent(&readings.HealthEvent{Status: readings.Unconfirmed}).GetStatus(); got != qualityv1.HealthStatus_HEALTH_STATUS_ANOMALOUS_UNCONFIRMED {
		t.Errorf("Unconfirmed publishes %v, want HEALTH_STATUS_ANOMALOUS_UNCONFIRMED", got)
	}
}
