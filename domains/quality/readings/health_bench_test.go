package readings

import (
	"testing"
	"time"
)

// BenchmarkMachineProcessLoad is a reading through a machine of a temperature, a vibration
// and a current sensor past calibration: every check, the drift model and health judged on
// the residual against the current (Load), the CUSUM and the assessment.
func BenchmarkMachineProcessLoad(b *testing.B) {
	m := NewMachine("m1", DefaultHealth)
	kinds := map[string]Kind{"t1": Temperature, "v1": Vibration, "c1": Current}
	ids := []string{"t1", "v1", "c1"}
	for _, id := range ids {
		m.AddSensor(Spec{ID: id, Machine: "m1", Kind: kinds[id], Min: -20, Max: 150, Interval: time.Minute}, DefaultConfig(kinds[id]))
	}
	// Level at rest, rise at full load, noise in units of benchValues' (σ 0.3).
	level := map[string][3]float64{"t1": {40, 12, 1}, "v1": {1.5, 1.2, 0.2}, "c1": {4, 20, 1.3}}
	feed := func(i int) float64 {
		id := ids[i%3]
		load := float64(i/3/240%2) * 0.8 // four-hour runs and rests
		v := level[id][0] + level[id][1]*load + level[id][2]*(benchValues[(i*7)&(len(benchValues)-1)]-40)
		res, err := m.Process(Reading{Sensor: id, Time: int64(i/3+1) * 60 * sec, Value: v})
		if err != nil {
			b.Fatal(err)
		}
		return res.Value
	}
	for i := range 3 * 3000 { // past the load fits and the drift model
		feed(i)
	}
	if m.Sensors["t1"].Trend.Load == nil || !m.Sensors["t1"].Trend.Load.Done {
		b.Fatal("t1's load fits not learnt")
	}
	for i := 3 * 3000; b.Loop(); i++ {
		sink += feed(i)
	}
	reportRate(b)
}
