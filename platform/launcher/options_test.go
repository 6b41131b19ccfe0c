package launcher

import "testing"

func TestOffset(t *testing.T) {
	t.Parallel()
	p := Ports{NATS: 4222, MQTT: -1, Postgres: 15432}.Offset(100)
	if p.NATS != 4322 || p.MQTT != -1 || p.Postgres != 15532 || p.Redis != 0 {
		t.Errorf("Offset(100) = %+v: fixed ports shift, disabled (-1) and free (0) ones stay", p)
	}
	s := OffsetServices(Services(), 100)
	if s[0].GRPCPort != 7100 || s[0].HTTPPort != 8100 || Services()[0].GRPCPort != 7000 {
		t.Errorf("OffsetServices shifted %+v and left the table %+v", s[0], Services()[0])
	}
	for _, sv := range s {
		if sv.Simulator && (sv.GRPCPort != 0 || sv.HTTPPort != 0) {
			t.Errorf("simulator %s got ports", sv.Name)
		}
	}
}
