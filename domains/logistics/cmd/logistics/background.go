package main

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/uber/h3-go/v4"

	"meshwork.dev/domains/logistics/position"
	"meshwork.dev/domains/logistics/postgres"
	"meshwork.dev/domains/logistics/redis"
	"meshwork.dev/domains/logistics/route"
	"meshwork.dev/domains/logistics/rpc"
	"meshwork.dev/domains/logistics/stream"
	"meshwork.dev/domains/logistics/tracking"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/service"
)

// landmarks is the number of ALT landmarks added to each compiled cost version.
const landmarks = 8

// domain is the assembled logistics core.
type domain struct {
	model     *route.Model
	planner   *route.Planner
	pipeline  *tracking.Pipeline
	handler   *rpc.Handler
	positions *dataproduct.Publisher
	routes    *dataproduct.Publisher
}

// build loads the model, builds the routing graph and wires the handler.
func build(ctx context.Context, cfg config, store *postgres.Store, js jetstream.JetStream, live *redis.Live) (*domain, error) {
	model := route.NewModel(route.ModelConfig{BucketMinutes: cfg.BucketMinutes, DefaultSpeedMPS: cfg.DefaultSpeed})
	if _, err := store.LoadModel(ctx, model); err != nil {
		return nil, err
	}
	g, err := route.NewDiskGraph(h3.NewLatLng(cfg.CityLat, cfg.CityLng), cfg.Resolution, cfg.CityRadius)
	if err != nil {
		return nil, err
	}
	positions, err := dataproduct.NewPublisher(js, stream.Positions)
	if err != nil {
		return nil, err
	}
	routes, err := dataproduct.NewPublisher(js, stream.Routes)
	if err != nil {
		return nil, err
	}
	d := &domain{model: model, planner: route.NewPlanner(g, model.Compile(g).WithLandmarks(landmarks)), positions: positions, routes: routes}
	d.pipeline = &tracking.Pipeline{
		Resolution: cfg.Resolution, Filter: position.NewFilter(position.Limits{}, 64),
		Tracker: route.NewTracker(model), Live: live, Publish: stream.PositionPublisher{P: positions},
		Now: func() time.Time { return time.Now().UTC() },
	}
	d.handler = rpc.New(rpc.Deps{
		Store: store, Live: live, Pipeline: d.pipeline, Planner: d.planner,
		Routes: stream.RoutePublisher{P: routes}, Now: d.pipeline.Now,
	})
	return d, nil
}

// background starts the NATS ingest, the periodic model persistence and publication, the
// outbox relay and catalog registration, and stops them at shutdown after in-flight RPCs.
func background(ctx context.Context, svc *service.Service, cfg config, pool *pgxpool.Pool, mesh *service.Mesh, store *postgres.Store, d *domain) error {
	log := svc.Logger()
	sub, err := stream.Ingest(mesh.NC, d.pipeline, log)
	if err != nil {
		return err
	}
	creds, err := svc.Credentials(ctx, cfg.ServiceAccount)
	if err != nil {
		return err
	}
	bg := svc.Background(ctx)
	if err := bg.Relay(pool, mesh.JS, stream.TravelTimes.DuplicateWindow); err != nil {
		return err
	}
	bg.Every(cfg.PublishInterval, "persist travel times", func(ctx context.Context) error { return persist(ctx, store, d) })
	bg.Register(cfg.CatalogAddr, creds, stream.All...)
	bg.BeforeStop(func(ctx context.Context) error {
		_ = sub.Drain()
		_ = d.positions.Flush(ctx)
		_ = d.routes.Flush(ctx)
		// The last learned times are saved before the relay stops.
		if err := persist(ctx, store, d); err != nil {
			log.ErrorContext(ctx, "persist travel times at shutdown", "err", err)
		}
		return nil
	})
	return nil
}

// persist saves the edges of every cell that changed since the last call, enqueues one
// cell-travel-times event per such cell in the same transaction, and recompiles the costs.
func persist(ctx context.Context, store *postgres.Store, d *domain) error {
	cells := d.model.TakeDirty()
	if len(cells) == 0 {
		return nil
	}
	msgs, rows, err := stream.TravelTimesMessages(ctx, d.model, cells, postgres.Now())
	if err != nil {
		return err
	}
	if err := store.SaveModel(ctx, rows, msgs); err != nil {
		return err
	}
	d.planner.SetCosts(d.model.Compile(d.planner.Graph()).WithLandmarks(landmarks))
	return nil
}
