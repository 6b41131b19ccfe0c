package tail_test

import (
	"encoding/json"
	"testing"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/meshctl/tail"
)

func TestFilter(t *testing.T) {
	t.Parallel()
	withSubjects := &platformv1.DataProductDescriptor{Name: "quality.clean-readings.v1", Subjects: []string{"dp.quality.clean-readings.v1.>"}}
	noSubjects := &platformv1.DataProductDescriptor{Name: "logistics.routes.v1"}
	tests := []struct {
		name    string
		desc    *platformv1.DataProductDescriptor
		key     string
		want    string
		wantErr bool
	}{
		{name: "every key", desc: withSubjects, want: "dp.quality.clean-readings.v1.>"},
		{name: "one key", desc: withSubjects, key: "m-17", want: "dp.quality.clean-readings.v1.m-17"},
		{name: "no subjects listed", desc: noSubjects, key: "v-1", want: "dp.logistics.routes.v1.v-1"},
		{name: "key with a dot", desc: withSubjects, key: "m.17", wantErr: true},
		{name: "wildcard key", desc: withSubjects, key: "*", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tail.Filter(tt.desc, tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Filter error = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("Filter = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEventRendering(t *testing.T) {
	t.Parallel()
	ok := tail.Event{
		Seq: 12, Subject: "dp.quality.clean-readings.v1.m-17", ID: "0190-abc", Time: "2026-01-02T04:04:05.123456+01:00",
		Type: "mesh.quality.v1.CleanReading", Key: "m-17", Data: json.RawMessage(`{"value":1.5}`),
	}
	bad := ok
	bad.Data, bad.Error = nil, "cannot parse invalid wire-format data"
	tests := []struct {
		name     string
		ev       tail.Event
		wantLine string
		wantJSON string
	}{
		{
			name:     "decoded",
			ev:       ok,
			wantLine: `#12 2026-01-02T03:04:05.123Z m-17 {"value":1.5}`,
			wantJSON: `{"seq":12,"subject":"dp.quality.clean-readings.v1.m-17","id":"0190-abc","time":"2026-01-02T04:04:05.123456+01:00","type":"mesh.quality.v1.CleanReading","key":"m-17","data":{"value":1.5}}`,
		},
		{
			name:     "undecodable",
			ev:       bad,
			wantLine: `#12 2026-01-02T03:04:05.123Z m-17 error: cannot parse invalid wire-format data`,
			wantJSON: `{"seq":12,"subject":"dp.quality.clean-readings.v1.m-17","id":"0190-abc","time":"2026-01-02T04:04:05.123456+01:00","type":"mesh.quality.v1.CleanReading","key":"m-17","error":"cannot parse invalid wire-format data"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.ev.Line(); got != tt.wantLine {
				t.Errorf("Line = %q, want %q", got, tt.wantLine)
			}
			b, err := json.Marshal(tt.ev)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(b) != tt.wantJSON {
				t.Errorf("JSON = %s\nwant   %s", b, tt.wantJSON)
			}
		})
	}
}
