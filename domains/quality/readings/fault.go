package readings

import (
	"fmt"
	"math/bits"
)

// History is how many recent readings the fault detector looks at.
const History = 20

// declareAt is, per flag, how many of the last History readings must carry it to declare the
// sensor faulty. Stuck and drift persist once they start, so they need a longer run; a single
// natural outlier never reaches any of these.
var declareAt = map[Flag]int{
	OutOfRange: 3, Spike: 6, Stuck: 8, Dropout: 4, RateOfChange: 5, Drift: 8, Noise: 8,
}

// declareN is declareAt by bitIndex (index 8, no flag, needs 0): an array lookup per flag and
// reading, not a map's.
var declareN = func() (a [9]int) {
	for f, n := range declareAt {
		a[bitIndex(f)] = n
	}
	return a
}()

// Detector declares a sensor faulty after repeated failed checks and clears it after
// History readings free of the fault's flag.
type Detector struct {
	// Masks holds, per flag bit, which of the last History readings carried it (bit 0 newest).
	Masks [7]uint32 `json:"masks"`
	// Times holds the last History sample times, Times[Pos] the newest.
	Times [History]int64 `json:"times"`
	// Pos is the newest slot of Times.
	Pos int `json:"pos"`
	// Faulty says whether the sensor is declared faulty.
	Faulty bool `json:"faulty"`
	// Fault is the flag that declared it.
	Fault Flag `json:"fault"`
	// Since is when the fault started (Unix ns).
	Since int64 `json:"since"`
}

// FaultEvent is a declaration or a clearance.
type FaultEvent struct {
	// Sensor and Machine name the sensor.
	Sensor, Machine string
	// Fault is the flag behind it.
	Fault Flag
	// Since is when the fault started (Unix ns).
	Since int64
	// Evidence says why.
	Evidence string
	// Cleared is set when the fault cleared, at ClearedAt (Unix ns).
	Cleared   bool
	ClearedAt int64
}

// Observe records the flags of a reading taken at t and returns an event when the sensor
// becomes faulty or recovers.
func (d *Detector) Observe(t int64, flags Flag) *FaultEvent {
	d.Pos = (d.Pos + 1) % History
	d.Times[d.Pos] = t
	for i := range d.Masks {
		d.Masks[i] = d.Masks[i]<<1&(1<<History-1) | uint32(flags>>i&1)
	}
	if d.Faulty {
		if d.Masks[bitIndex(d.Fault)] != 0 {
			return nil
		}
		d.Faulty = false
		d.Masks = [7]uint32{} // start afresh: the tail of one fault is not evidence of another
		return &FaultEvent{Fault: d.Fault, Since: d.Since, Cleared: true, ClearedAt: t,
			Evidence: fmt.Sprintf("no %s in the last %d readings", d.Fault, History)}
	}
	best, bestN := Flag(0), 0
	for _, f := range AllFlags {
		n := bits.OnesCount32(d.Masks[bitIndex(f)])
		if need := declareN[bitIndex(f)]; n >= need && n-need >= bestN-declareN[bitIndex(best)] {
			best, bestN = f, n
		}
	}
	if best == 0 {
		return nil
	}
	m := d.Masks[bitIndex(best)]
	oldest := 31 - bits.LeadingZeros32(m) // readings ago
	d.Faulty, d.Fault = true, best
	d.Since = d.Times[(d.Pos-oldest+History)%History]
	return &FaultEvent{Fault: best, Since: d.Since,
		Evidence: fmt.Sprintf("%d of the last %d readings flagged %s", bestN, History, best)}
}

func bitIndex(f Flag) int { return bits.TrailingZeros8(uint8(f)) }
