package chaos

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Machine is one machine of the load with three sensors, temperature (t), vibration (v) and
// current (c), one reading each per tick, one second of sample time apart.
type Machine struct {
	ID string
	// Wear makes vibration and temperature rise together from tick WearFrom, the bearing wear
	// that quality reports CRITICAL and scheduling turns into a maintenance job (needs about
	// 1800 ticks: quality learns normal levels over the first 1000).
	Wear bool
	// FaultAt, when positive, puts the current sensor out of its range for 6 ticks from this
	// tick: quality declares it faulty (and clears it), scheduling opens a sensor replacement.
	FaultAt int
}

// WearFrom is the tick at which a worn machine's bearing starts to wear.
const WearFrom = 1160

// Sensors are the ids of m's sensors (temperature, vibration, current): unique mesh-wide,
// one subject token each.
func (m Machine) Sensors() []string { return []string{m.ID + "-t", m.ID + "-v", m.ID + "-c"} }

// values are the three sensors' values at tick i: small smooth noise well inside every
// check's limits (the e2e test's quiet machine), plus the machine's planted events.
func (m Machine) values(i int) [3]float64 {
	x := float64(i)
	v := [3]float64{60 + 0.04*math.Sin(1.3*x) + 0.03*math.Sin(0.37*x),
		2 + 0.01*math.Sin(1.1*x) + 0.008*math.Sin(0.41*x),
		12 + 0.05*math.Sin(1.7*x) + 0.04*math.Sin(0.29*x)}
	if m.Wear && i >= WearFrom {
		d := float64(i - WearFrom)
		v[0] += 0.006 * d
		v[1] += 0.0015 * d
	}
	if m.FaultAt > 0 && i >= m.FaultAt && i < m.FaultAt+6 {
		v[2] = 500 // the current sensor's range is 0..100
	}
	return v
}

// inputName names one numbered reading: its sensor and sequence number.
func inputName(sensor string, seq uint64) string { return fmt.Sprintf("%s#%d", sensor, seq) }

// loadResult is what the load published.
type loadResult struct {
	// Accepted are the readings QUALITY_INGEST acknowledged, by input name: every one of them
	// must reach raw and clean readings exactly once.
	Accepted []string
	// Refused counts readings never acknowledged after every retry: the edge refused them, so
	// nothing downstream expects them.
	Refused int
	// Retries counts publishes tried again (same Nats-Msg-Id) after a timeout or error.
	Retries int
}

// publishLoad publishes ticks readings per sensor of machines to ingest.quality.<m>.<s>
// through JetStream (so each is acknowledged by QUALITY_INGEST, and a retry keeps its
// Nats-Msg-Id), spread evenly over d. Readings carry seq = tick + 1. A publish is retried
// for up to 30 s.
func publishLoad(ctx context.Context, js jetstream.JetStream, run string, machines []Machine, ticks int, d time.Duration) (loadResult, error) {
	var res loadResult
	start := time.Now()
	sampleStart := start.Add(-time.Duration(ticks) * time.Second).Truncate(time.Second)
	for i := range ticks {
		if wait := time.Until(start.Add(d * time.Duration(i) / time.Duration(ticks))); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
		at := sampleStart.Add(time.Duration(i) * time.Second).UTC().Format(time.RFC3339Nano)
		for _, m := range machines {
			vals := m.values(i)
			for k, sensor := range m.Sensors() {
				seq := uint64(i + 1)
				msg := nats.NewMsg("ingest.quality." + m.ID + "." + sensor)
				msg.Data = fmt.Appendf(nil, `{"value": %g, "time": %q, "seq": %d}`, vals[k], at, seq)
				msg.Header.Set(nats.MsgIdHdr, fmt.Sprintf("chaos-%s-%s-%d", run, sensor, seq))
				ok, retries, err := publishRetrying(ctx, js, msg)
				res.Retries += retries
				if err != nil {
					return res, err
				}
				if !ok {
					res.Refused++
					continue
				}
				res.Accepted = append(res.Accepted, inputName(sensor, seq))
			}
		}
	}
	return res, nil
}

// publishRetrying publishes msg until it is acknowledged, for at most 30 s.
func publishRetrying(ctx context.Context, js jetstream.JetStream, msg *nats.Msg) (ok bool, retries int, err error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.PublishMsg(pctx, msg)
		cancel()
		if err == nil {
			return true, retries, nil
		}
		if ctx.Err() != nil {
			return false, retries, ctx.Err()
		}
		if time.Now().After(deadline) || errors.Is(err, nats.ErrConnectionClosed) {
			return false, retries, nil
		}
		retries++
		time.Sleep(200 * time.Millisecond)
	}
}
