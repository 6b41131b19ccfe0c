package chaos

import (
	"fmt"
	"testing"
)

// readings are n numbered readings of one sensor as the load expects them and as a product
// stores them when nothing went wrong.
func readings(sensor string, n int) ([]string, []Event) {
	var in []string
	var evs []Event
	for i := 1; i <= n; i++ {
		id := inputName(sensor, uint64(i))
		in = append(in, id)
		evs = append(evs, Event{ID: fmt.Sprintf("%s-%d", sensor, i), Key: sensor, Input: id, Order: int64(i)})
	}
	return in, evs
}

func TestCountEvents(t *testing.T) {
	t.Parallel()
	in, clean := readings("s1", 10)
	tests := []struct {
		name   string
		events func() []Event
		want   Count
	}{
		{"nothing wrong", func() []Event { return clean }, Count{Expected: 10, Stored: 10}},
		{"planted loss", func() []Event {
			return append(append([]Event{}, clean[:3]...), clean[4:]...)
		}, Count{Expected: 10, Stored: 9, Lost: 1, LostInputs: []string{in[3]}}},
		{"planted duplicate id", func() []Event {
			return append(append([]Event{}, clean...), clean[5])
		}, Count{Expected: 10, Stored: 11, DuplicateIDs: 1}},
		{"planted duplicate input under another id", func() []Event {
			again := clean[2]
			again.ID = "ingest-99"
			return append(append([]Event{}, clean...), again)
		}, Count{Expected: 10, Stored: 11, DuplicateInputs: 1, OutOfOrder: 1, OutOfOrderInputs: []string{"ingest-99 s1#3"}}},
		{"planted reorder", func() []Event {
			evs := append([]Event{}, clean...)
			evs[4], evs[5] = evs[5], evs[4]
			return evs
		}, Count{Expected: 10, Stored: 10, OutOfOrder: 1, OutOfOrderInputs: []string{"s1-5 s1#5"}}},
		{"order is per key", func() []Event {
			_, other := readings("s2", 3)
			return append(append([]Event{}, clean...), other...)
		}, Count{Expected: 10, Stored: 13, Extra: 3, ExtraInputs: []string{"s2-1 s2#1", "s2-2 s2#2", "s2-3 s2#3"}}},
		{"an event of no input", func() []Event {
			return append(append([]Event{}, clean...), Event{ID: "x", Key: "s1", Order: 11})
		}, Count{Expected: 10, Stored: 11, Extra: 1, ExtraInputs: []string{"x "}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CountEvents("p", in, tt.events())
			tt.want.Product, tt.want.Redelivered = "p", -1
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("CountEvents =\n %+v, want\n %+v", got, tt.want)
			}
			if fail := tt.want.Lost+tt.want.Duplicated() > 0; got.Failed() != fail {
				t.Errorf("Failed() = %v, want %v", got.Failed(), fail)
			}
		})
	}
}

func TestCountEventsExpectedTwiceLostOnce(t *testing.T) {
	t.Parallel()
	got := CountEvents("p", []string{"a", "a", "b"}, []Event{{ID: "1", Input: "b"}})
	if got.Expected != 2 || got.Lost != 1 {
		t.Errorf("CountEvents = %+v, want 2 expected, 1 lost", got)
	}
}
