// Command fleet-sim drives vans through a synthetic city (sim package: fast arterials, slow
// side streets, a congested old town, rush hours) and sends their noisy GPS pings to
// ingest.logistics.<van> on NATS_URL, one protobuf mesh.logistics.v1.IngestPositionsRequest per
// ping, in real time. With TRUTH_FILE set it first writes the city's ground-truth travel times
// (CSV: from_cell,to_cell,hour_utc,seconds) for evaluating the learned model.
package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	"meshwork.dev/domains/logistics/sim"
	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/platform/service"
)

// config is fleet-sim's environment.
type config struct {
	// ServiceAccount is svc-fleet-sim's: it may publish vehicle positions and nothing else.
	service.ServiceAccount
	NATSURL    string        `env:"NATS_URL" default:"nats://127.0.0.1:4222"`
	Vans       int           `env:"VANS" default:"20"`
	Interval   time.Duration `env:"PING_INTERVAL" default:"5s"`
	NoiseM     float64       `env:"GPS_NOISE_M" default:"8"`
	Seed       uint64        `env:"SEED" default:"1"`
	CityLat    float64       `env:"CITY_LAT" default:"52.37"`
	CityLng    float64       `env:"CITY_LNG" default:"4.90"`
	CityRadius int           `env:"CITY_RADIUS_CELLS" default:"25"`
	TruthFile  string        `env:"TRUTH_FILE"`
}

func main() { service.Main("fleet-sim", run) }

func run(ctx context.Context, getenv func(string) string) error {
	var cfg config
	if err := service.LoadConfig(getenv, &cfg); err != nil {
		return err
	}
	if cfg.Vans < 1 || cfg.Interval <= 0 || cfg.CityRadius < 1 {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "VANS, PING_INTERVAL, CITY_RADIUS_CELLS", Problem: "must be positive"}}}
	}
	city, err := sim.NewCity(sim.CityConfig{Centre: h3.NewLatLng(cfg.CityLat, cfg.CityLng), Radius: cfg.CityRadius})
	if err != nil {
		return err
	}
	if cfg.TruthFile != "" {
		if err := writeTruth(city, cfg.TruthFile); err != nil {
			return err
		}
	}
	nc, err := service.ConnectNATS(ctx, cfg.NATSURL, "fleet-sim", cfg.ServiceAccount, nil)
	if err != nil {
		return err
	}
	defer nc.Close()
	start := time.Now().UTC()
	vans := make([]*sim.Van, cfg.Vans)
	for i := range vans {
		vans[i] = sim.NewVan(fmt.Sprintf("sim-van-%03d", i), city, cfg.Seed+uint64(i), start, cfg.NoiseM)
	}
	slog.Info("fleet-sim driving", "vans", cfg.Vans, "cells", city.Graph().Len(), "interval", cfg.Interval.String())
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nc.Drain()
		case <-t.C:
			for _, v := range vans {
				if err := send(nc, v.Step(cfg.Interval)); err != nil {
					return err
				}
			}
		}
	}
}

func send(nc *nats.Conn, p sim.Ping) error {
	b, err := proto.Marshal(&logisticsv1.IngestPositionsRequest{
		VehicleId: p.Vehicle, RecordedAt: timestamppb.New(p.At), Position: &logisticsv1.LatLng{Lat: p.Lat, Lng: p.Lng},
		SpeedMps: p.SpeedMPS, HeadingDeg: p.HeadingDeg,
	})
	if err != nil {
		return fmt.Errorf("fleet-sim: encode ping: %w", err)
	}
	if err := nc.Publish(stream.IngestSubjectPrefix+p.Vehicle, b); err != nil {
		return fmt.Errorf("fleet-sim: publish ping: %w", err)
	}
	return nil
}

// writeTruth writes every edge's true travel time for every hour.
func writeTruth(city *sim.City, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("fleet-sim: truth file: %w", err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "from_cell,to_cell,hour_utc,seconds")
	g := city.Graph()
	day := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < g.Len(); i++ {
		from := int32(i)
		g.Neighbours(from, func(_ int, to int32, _ float64) {
			for h := 0; h < 24; h++ {
				s, _ := city.Truth().PathSeconds([]int32{from, to}, day.Add(time.Duration(h)*time.Hour))
				fmt.Fprintf(w, "%s,%s,%d,%s\n", g.Cell(from), g.Cell(to), h, strconv.FormatFloat(s, 'f', 2, 64))
			}
		})
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("fleet-sim: truth file: %w", err)
	}
	return f.Close()
}
