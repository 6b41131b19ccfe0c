package sim

import "meshwork.dev/domains/quality/readings"

// Declaration is a sensor declared faulty by the detector, at the time of the reading that
// declared it.
type Declaration struct {
	// Sensor is the sensor id; At the declaration time (Unix ns).
	Sensor string
	At     int64
}

// Score is episode-level detection quality.
type Score struct {
	// TruePositives are declarations inside a labelled fault; FalsePositives outside any.
	TruePositives, FalsePositives int
	// Detected and Missed count labelled faults with and without a declaration.
	Detected, Missed int
}

// Precision is TP / (TP + FP), 1 with no declaration.
func (s Score) Precision() float64 {
	if s.TruePositives+s.FalsePositives == 0 {
		return 1
	}
	return float64(s.TruePositives) / float64(s.TruePositives+s.FalsePositives)
}

// Recall is the share of labelled faults detected, 1 with none.
func (s Score) Recall() float64 {
	if s.Detected+s.Missed == 0 {
		return 1
	}
	return float64(s.Detected) / float64(s.Detected+s.Missed)
}

// F1 is the harmonic mean of precision and recall.
func (s Score) F1() float64 {
	p, r := s.Precision(), s.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// ScoreFaults matches declarations to the sensor-fault episodes: a declaration counts for an
// episode of its sensor when it falls between the episode's start and grace after its end
// (the detector needs a few readings, and a fault may be declared on its last ones).
func ScoreFaults(episodes []Episode, decls []Declaration, grace int64) Score {
	var s Score
	hit := make([]bool, len(episodes))
	for _, d := range decls {
		ok := false
		for i, e := range episodes {
			if e.Sensor == d.Sensor && d.At >= e.Start && d.At <= e.End+grace {
				hit[i], ok = true, true
			}
		}
		if ok {
			s.TruePositives++
		} else {
			s.FalsePositives++
		}
	}
	for i, e := range episodes {
		switch {
		case e.Sensor == "":
		case hit[i]:
			s.Detected++
		default:
			s.Missed++
		}
	}
	return s
}

// Run feeds every sample of ticks ticks through fresh filters and returns the declarations and
// health changes (per machine) they produced. It is the offline twin of the service pipeline.
func Run(f *Factory, ticks int) ([]Declaration, map[string][]readings.HealthEvent, error) {
	machines := map[string]*readings.Machine{}
	for id, specs := range f.Specs() {
		m := readings.NewMachine(id, readings.DefaultHealth)
		for _, s := range specs {
			m.AddSensor(s, readings.DefaultConfig(s.Kind))
		}
		machines[id] = m
	}
	var decls []Declaration
	health := map[string][]readings.HealthEvent{}
	for range ticks {
		for _, smp := range f.Next() {
			res, err := machines[smp.Machine].Process(smp.Reading)
			if err != nil {
				return nil, nil, err
			}
			if res.Fault != nil && !res.Fault.Cleared {
				decls = append(decls, Declaration{Sensor: smp.Sensor, At: smp.Time})
			}
			for _, ev := range res.Silent {
				decls = append(decls, Declaration{Sensor: ev.Sensor, At: smp.Time})
			}
			if res.Health != nil {
				health[smp.Machine] = append(health[smp.Machine], *res.Health)
			}
		}
	}
	return decls, health, nil
}
