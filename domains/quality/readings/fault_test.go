package readings

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNoiseDeclaresAFault(t *testing.T) {
	t.Parallel()
	var d Detector
	var ev *FaultEvent
	for i := range 8 {
		if e := d.Observe(int64(i+1), Noise); e != nil {
			ev = e
			if i+1 < declareAt[Noise] {
				t.Fatalf("declared after %d noisy readings, want %d", i+1, declareAt[Noise])
			}
		}
	}
	if ev == nil || ev.Fault != Noise || !strings.Contains(ev.Evidence, "noise") || ev.Since != 1 {
		t.Fatalf("event %+v, want a noise fault since the first noisy reading", ev)
	}
}

// TestStateFromBeforeNoiseResumes: a sensor state saved before the noise flag existed (six
// fault masks, no shape, no noise or run parameters) loads, and resumes with those checks off.
func TestStateFromBeforeNoiseResumes(t *testing.T) {
	t.Parallel()
	m := NewMachine("m1", DefaultHealth)
	c := DefaultConfig(Temperature)
	c.NoiseRatio, c.NoiseCalibration, c.StuckFalseRate = 0, 0, 0 // as saved then
	m.AddSensor(tempSpec(), c)
	rng := rand.New(rand.NewPCG(4, 4))
	for i := range 300 {
		if _, err := m.Process(Reading{Sensor: "t1", Time: int64(i+1) * 60 * sec, Value: 40 + 0.3*rng.NormFloat64()}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var old map[string]any
	_ = json.Unmarshal(raw, &old)
	s := old["sensors"].(map[string]any)["t1"].(map[string]any)
	s["detector"].(map[string]any)["masks"] = []int{0, 0, 0, 0, 0, 0}
	delete(s["filter"].(map[string]any), "shape")
	raw, _ = json.Marshal(old)
	var back Machine
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatalf("state from before the noise flag: %v", err)
	}
	for i := range 300 {
		v := 40 + 3*rng.NormFloat64() // noisy, but the check is off for this state
		res, err := back.Process(Reading{Sensor: "t1", Time: int64(301+i) * 60 * sec, Value: v})
		if err != nil {
			t.Fatal(err)
		}
		if res.Flags&Noise != 0 {
			t.Fatalf("reading %d flagged noise with the check off", i)
		}
	}
}

func TestSustainedDropRaisesHealth(t *testing.T) {
	t.Parallel()
	m, now := newMachine(t, rand.New(rand.NewPCG(3, 4)))
	for i := range 300 {
		r := float64(i) / 300
		now = step(t, m, rand.New(rand.NewPCG(uint64(i), 7)), now,
			map[string]float64{"t1": -10 * r, "t2": -10 * r, "t3": -10 * r, "v1": -1 * r, "v2": -1 * r})
	}
	if m.Status != Critical || !strings.Contains(m.Reason, "changing together") || !strings.Contains(m.Reason, "σ") ||
		!strings.Contains(m.Reason, "-") {
		t.Fatalf("status %v (%q) after vibration and temperature dropped together, want CRITICAL naming the drop", m.Status, m.Reason)
	}
}
