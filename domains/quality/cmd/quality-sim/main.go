// Command quality-sim simulates a factory for the quality domain (package sim): machines with
// daily load cycles and noise, injected sensor faults and bearing wear, with ground truth.
//
//	quality-sim --csv DIR [--machines 6] [--seed 1] [--days 4]
//	    writes one CSV per sensor (timestamp,value,label: the sensor fault affecting the value)
//	    for `quality eval`, and truth.json (registry, locations, fault episodes, bearing wear)
//	quality-sim --nats nats://127.0.0.1:4222 | --mqtt 127.0.0.1:1883 [--rate 10] [--ticks 0] [--start T]
//	    publishes JSON readings to ingest.quality.<machine>.<sensor> over NATS, or to
//	    factory/<machine>/<sensor> over MQTT (own MQTT 3.1.1 client, package mqtt, QoS 1),
//	    rate ticks per second (one tick = one reading per sensor), ticks 0 = all planned days;
//	    sample times start --days before now unless --start says otherwise.
//
// Machines stand within --radius metres (default 3000) of --lat/--lng (default $CITY_LAT and
// $CITY_LNG, the logistics city's centre, else 52.37,4.90), placed from the seed.
//
// With --register QUALITY_ADDR it first creates its machines and sensors through
// QualityService, with a service-account token: SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET
// (client-credentials grant at IDENTITY_ADDR, as services do), or MESH_TOKEN (a bearer token,
// e.g. from `meshctl token`).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"

	"meshwork.dev/domains/quality/mqtt"
	"meshwork.dev/domains/quality/sim"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/service"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quality-sim:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("quality-sim", flag.ContinueOnError)
	dir := fs.String("csv", "", "write per-sensor CSVs and truth.json into this directory")
	natsURL := fs.String("nats", getenv("NATS_URL"), "publish over NATS to this server (default $NATS_URL)")
	mqttAddr := fs.String("mqtt", "", "publish over MQTT to this host:port")
	machines := fs.Int("machines", 6, "machines")
	seed := fs.Uint64("seed", 1, "random seed")
	days := fs.Float64("days", 4, "simulated days (CSV, and the fault plan)")
	rate := fs.Float64("rate", 10, "ticks per second when publishing")
	ticks := fs.Int("ticks", 0, "ticks to publish, 0 for all planned days")
	registerAddr := fs.String("register", getenv("QUALITY_ADDR"), "create the machines and sensors at this QualityService address first (default $QUALITY_ADDR)")
	lat, latErr := envFloat(getenv, "CITY_LAT", sim.DefaultCentre.Lat)
	lng, lngErr := envFloat(getenv, "CITY_LNG", sim.DefaultCentre.Lng)
	fs.Float64Var(&lat, "lat", lat, "latitude of the centre the machines stand around (default $CITY_LAT, else 52.37)")
	fs.Float64Var(&lng, "lng", lng, "longitude of that centre (default $CITY_LNG, else 4.90)")
	radius := fs.Float64("radius", sim.DefaultRadius, "machines stand at most this many metres from the centre")
	start := fs.String("start", "", "first sample time, RFC 3339 (default: 2026-01-05T00:00:00Z for --csv; when publishing, now minus --days, so the readings end about now)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := errors.Join(latErr, lngErr); err != nil {
		return err
	}
	if !(lat >= -90 && lat <= 90) || !(lng >= -180 && lng <= 180) || !(*radius > 0) {
		return fmt.Errorf("centre %g,%g radius %g m: want lat in [-90, 90], lng in [-180, 180] and a positive radius", lat, lng, *radius)
	}
	cfg := sim.DefaultConfig()
	cfg.Machines, cfg.Seed = *machines, *seed
	cfg.Centre, cfg.Radius = sim.LatLng{Lat: lat, Lng: lng}, *radius
	span := time.Duration(*days * float64(24*time.Hour))
	switch {
	case *start != "":
		t, err := time.Parse(time.RFC3339, *start)
		if err != nil {
			return fmt.Errorf("--start %q: want an RFC 3339 time", *start)
		}
		cfg.Start = t.UTC()
	case *dir == "" && (*natsURL != "" || *mqttAddr != ""):
		// Live: the simulated days end about now, so faults and health changes carry recent
		// times (scheduling derives due dates from them).
		cfg.Start = time.Now().UTC().Add(-span).Truncate(cfg.Interval)
	}
	f := sim.New(cfg, span)
	n := int(span / cfg.Interval)
	if *ticks > 0 {
		n = *ticks
	}
	if *registerAddr != "" {
		if err := register(ctx, *registerAddr, f, getenv, out); err != nil {
			return err
		}
	}
	switch {
	case *dir != "":
		return writeCSV(f, n, *dir, out)
	case *natsURL != "" || *mqttAddr != "":
		var sa service.ServiceAccount
		if err := service.LoadConfig(getenv, &sa); err != nil {
			return err
		}
		send, closeFn, err := sender(ctx, *natsURL, *mqttAddr, getenv("MQTT_USERNAME"), getenv("MQTT_PASSWORD"), sa)
		if err != nil {
			return err
		}
		defer closeFn()
		return publish(ctx, f, n, *rate, send, out)
	}
	if *registerAddr != "" {
		return nil
	}
	return errors.New("one of --csv, --nats, --mqtt or --register is required")
}

// envFloat reads a number from the environment; def when unset.
func envFloat(getenv func(string) string, name string, def float64) (float64, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return def, fmt.Errorf("%s=%q: not a number", name, v)
	}
	return f, nil
}

// register creates the factory's registry entries with a service token.
func register(ctx context.Context, addr string, f *sim.Factory, getenv func(string) string, out io.Writer) error {
	var sa service.ServiceAccount
	if err := service.LoadConfig(getenv, &sa); err != nil {
		return err
	}
	var source func(context.Context) (string, error)
	switch {
	case sa.ClientID != "":
		idConn, err := service.Dial(ctx, sa.IdentityAddr)
		if err != nil {
			return err
		}
		defer idConn.Close()
		source = auth.ClientCredentials(idConn, sa.ClientID, sa.ClientSecret).Token
	case getenv("MESH_TOKEN") != "":
		tok := getenv("MESH_TOKEN")
		source = func(context.Context) (string, error) { return tok, nil }
	default:
		return errors.New("--register needs SERVICE_CLIENT_ID/SERVICE_CLIENT_SECRET or MESH_TOKEN")
	}
	conn, err := service.Dial(ctx, addr, grpc.WithPerRPCCredentials(auth.BearerToken(source)))
	if err != nil {
		return err
	}
	defer conn.Close()
	n, err := sim.Register(ctx, qualityv1.NewQualityServiceClient(conn), f)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "registered %d machines and sensors at %s\n", n, addr)
	return nil
}

type payload struct {
	Value float64 `json:"value"`
	Time  string  `json:"time"`
	Seq   int     `json:"seq"`
}

// sender publishes over MQTT or NATS as the simulator's service account (svc-quality-sim,
// which may publish on the ingest subjects and nothing else); without one, the credentials
// in natsURL, or MQTT_USERNAME and MQTT_PASSWORD for MQTT, are used.
func sender(ctx context.Context, natsURL, mqttAddr, mqttUser, mqttPassword string, sa service.ServiceAccount) (func(machine, sensor string, data []byte) error, func(), error) {
	if mqttAddr != "" {
		user, token := mqttUser, mqttPassword
		if sa.ClientID != "" {
			user = sa.ClientID
			idConn, err := service.Dial(ctx, sa.IdentityAddr)
			if err != nil {
				return nil, nil, err
			}
			defer idConn.Close()
			// One token for the session: the MQTT connection lasts while the token does.
			if token, err = auth.ClientCredentials(idConn, sa.ClientID, sa.ClientSecret).Token(ctx); err != nil {
				return nil, nil, err
			}
		}
		c, err := mqtt.Dial(ctx, mqttAddr, "quality-sim", user, token)
		if err != nil {
			return nil, nil, err
		}
		return func(m, s string, data []byte) error { return c.Publish("factory/"+m+"/"+s, data, 1) },
			func() { _ = c.Close() }, nil
	}
	nc, err := service.ConnectNATS(ctx, natsURL, "quality-sim", sa, nil)
	if err != nil {
		return nil, nil, err
	}
	return func(m, s string, data []byte) error { return nc.Publish("ingest.quality."+m+"."+s, data) },
		func() { _ = nc.Drain() }, nil
}

func publish(ctx context.Context, f *sim.Factory, n int, rate float64, send func(string, string, []byte) error, out io.Writer) error {
	tick := time.NewTicker(time.Duration(float64(time.Second) / max(rate, 0.001)))
	defer tick.Stop()
	sent := 0
	for i := range n {
		for _, s := range f.Next() {
			data, err := json.Marshal(payload{Value: s.Value, Time: time.Unix(0, s.Time).UTC().Format(time.RFC3339Nano), Seq: i})
			if err != nil {
				return err
			}
			if err := send(s.Machine, s.Sensor, data); err != nil {
				return err
			}
			sent++
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(out, "stopped after %d readings\n", sent)
			return nil
		case <-tick.C:
		}
	}
	fmt.Fprintf(out, "published %d readings\n", sent)
	return nil
}

func writeCSV(f *sim.Factory, n int, dir string, out io.Writer) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]*os.File{}
	defer func() {
		for _, fh := range files {
			fh.Close()
		}
	}()
	for range n {
		for _, s := range f.Next() {
			fh := files[s.Sensor]
			if fh == nil {
				var err error
				if fh, err = os.Create(filepath.Join(dir, s.Sensor+".csv")); err != nil {
					return err
				}
				files[s.Sensor] = fh
				fmt.Fprintln(fh, "timestamp,value,label")
			}
			label := s.Label
			if label == sim.LabelWear {
				label = "" // a real failure, not a bad reading: it is in truth.json
			}
			fmt.Fprintf(fh, "%s,%.4f,%s\n", time.Unix(0, s.Time).UTC().Format(time.RFC3339), s.Value, label)
		}
	}
	truth, err := json.MarshalIndent(struct {
		Specs     any                   `json:"specs"`
		Locations map[string]sim.LatLng `json:"locations"`
		Episodes  []sim.Episode         `json:"episodes"`
	}{f.Specs(), f.Locations(), f.Episodes()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "truth.json"), truth, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %d sensor files and truth.json to %s\n", len(files), dir)
	return nil
}
