package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
)

// crashOnceWhenT2Faulty makes the first save of a state in which t2 is faulty fail, after the
// batch's events were published: a crash between publish and commit. It also fails the third
// inbox statement, a failure while a batch is being applied (with earlier batches possibly
// still waiting for their commit). Sequences are not transactional, so each failure happens
// once.
const crashOnceWhenT2Faulty = `
CREATE SEQUENCE test_inbox_calls;
CREATE FUNCTION test_inbox_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('test_inbox_calls') = 3 THEN
		RAISE EXCEPTION 'injected failure while applying';
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER test_inbox_fail BEFORE INSERT ON inbox_events FOR EACH STATEMENT EXECUTE FUNCTION test_inbox_fail();
CREATE SEQUENCE test_crash_once;
CREATE FUNCTION test_crash() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (NEW.state #>> '{sensors,t2,detector,faulty}') = 'true' THEN
		IF nextval('test_crash_once') = 1 THEN
			RAISE EXCEPTION 'injected crash between publish and commit';
		END IF;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER test_crash BEFORE INSERT OR UPDATE ON quality_filter_state FOR EACH ROW EXECUTE FUNCTION test_crash();`

// TestSilentSensorAcrossCrashAndRestart sends three sensors' readings a minute apart; t2 goes
// silent for 30 minutes and comes back. An early batch fails while applied and the batch that
// declares t2 fails after publishing (both injected); they and the batches after them are
// applied again in order; the service is then stopped and a new one with empty memory applies
// the rest. sensor-faults must hold exactly one dropout declaration of t2
// (id: the triggering raw event's id + "-silent-t2") and one clearance, and clean-readings one
// clean reading per raw reading.
func TestSilentSensorAcrossCrashAndRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srv := startServers(t, ctx)
	js, pool := srv.js, srv.pool
	if _, err := pool.Exec(ctx, crashOnceWhenT2Faulty); err != nil {
		t.Fatal(err)
	}
	reg := registry{}
	sensors := []string{"t1", "t2", "t3"}
	for _, id := range sensors {
		reg["m1/"+id] = readings.Spec{ID: id, Machine: "m1", Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Minute}
	}
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		t.Fatal(err)
	}
	const silentFrom, silentTo, ticks = 30, 60, 100
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	total := 0
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			for _, id := range sensors {
				if id == "t2" && i >= silentFrom && i < silentTo {
					continue
				}
				r := &qualityv1.RawReading{MachineId: "m1", SensorId: id, SampledAt: timestamppb.New(t0.Add(time.Duration(i) * time.Minute)),
					Value: 40 + float64((i*7+len(id))%5)/10}
				if err := pipeline.Forward(ctx, pub, r, dataproduct.WithEventID(fmt.Sprintf("r-%s-%d", id, i))); err != nil {
					t.Fatal(err)
				}
				total++
			}
		}
	}
	// The declaration comes with t1's reading at the first tick more than 5 intervals after
	// t2's last one (tick 29); the clearance with t2's 21st reading after its return.
	k := int(readings.DefaultConfig(readings.Temperature).SilenceFactor)
	wantDeclare := fmt.Sprintf("r-t1-%d-silent-t2", silentFrom-1+k+1)
	wantClear := fmt.Sprintf("r-t2-%d-fault", silentTo+readings.History)

	relay, err := outbox.NewRelay(pool, js, outbox.RelayConfig{DuplicateWindow: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	publish(0, silentTo+5)
	first := postgres.New(pool)
	r1 := start(t, ctx, true, first, reg, js, relay)
	waitFor(t, "the first part applied", func() (bool, error) {
		n, err := first.Applied(ctx, "m1")
		return n == int64(total), err
	})
	r1.stop(t, ctx)
	publish(silentTo+5, ticks)
	second := postgres.New(pool)
	r2 := start(t, ctx, true, second, reg, js, relay)
	defer r2.stop(t, ctx)
	waitFor(t, "every reading applied", func() (bool, error) {
		n, err := second.Applied(ctx, "m1")
		return n == int64(total), err
	})

	var crashes, inboxCalls int64
	if err := pool.QueryRow(ctx, `SELECT (SELECT last_value FROM test_crash_once), (SELECT last_value FROM test_inbox_calls)`).Scan(&crashes, &inboxCalls); err != nil {
		t.Fatal(err)
	}
	if crashes < 1 || inboxCalls < 4 {
		t.Fatalf("the injected failures did not both happen (%d, %d inbox statements): the test proves nothing", crashes, inboxCalls)
	}
	faults := readAll(t, ctx, js, stream.SensorFaults.StreamName())
	if len(faults) != 2 {
		for _, m := range faults {
			var f qualityv1.SensorFault
			_ = proto.Unmarshal(m.Data(), &f)
			t.Logf("%s: %v", m.Headers().Get(dataproduct.HeaderID), &f)
		}
		t.Fatalf("sensor-faults holds %d events, want a declaration and a clearance", len(faults))
	}
	for i, want := range []struct {
		id      string
		cleared bool
	}{{wantDeclare, false}, {wantClear, true}} {
		m := faults[i]
		var f qualityv1.SensorFault
		if err := proto.Unmarshal(m.Data(), &f); err != nil {
			t.Fatal(err)
		}
		if id := m.Headers().Get(dataproduct.HeaderID); id != want.id || f.GetSensorId() != "t2" ||
			f.GetFaultType() != qualityv1.FaultType_FAULT_TYPE_DROPOUT || f.GetCleared() != want.cleared ||
			!f.GetSince().AsTime().Equal(t0.Add((silentFrom-1)*time.Minute)) {
			t.Fatalf("fault event %d: id %s %v, want id %s, dropout of t2 since tick %d, cleared %v", i, id, &f, want.id, silentFrom-1, want.cleared)
		}
	}
	if clean := readAll(t, ctx, js, stream.CleanReadings.StreamName()); len(clean) != total {
		t.Fatalf("clean-readings holds %d events for %d raw readings", len(clean), total)
	}
}

// readAll returns every message of a stream, in order.
func readAll(t *testing.T, ctx context.Context, js jetstream.JetStream, name string) []jetstream.Msg {
	t.Helper()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(ctx, name, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []jetstream.Msg
	for range info.State.Msgs {
		m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}
