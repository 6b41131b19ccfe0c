package postgres

import (
	"testing"
	"time"

	"meshwork.dev/domains/quality/readings"
)

// TestSpecOfKnownSensorLeavesMissesAlone: a sensor in the snapshot is answered without the
// misses of unknown sensors, so readings of known sensors never wait on them (the lock on
// misses is held here throughout).
func TestSpecOfKnownSensorLeavesMissesAlone(t *testing.T) {
	t.Parallel()
	want := readings.Spec{ID: "t1", Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
	r := NewRegistry(nil)
	r.snap["m1/t1"] = want
	r.missMu.Lock()
	defer r.missMu.Unlock()
	done := make(chan readings.Spec, 1)
	go func() {
		s, _ := r.Spec("m1", "t1")
		done <- s
	}()
	select {
	case got := <-done:
		if got != want {
			t.Errorf("Spec = %+v, want %+v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Spec of a sensor in the snapshot waited on the misses")
	}
}
