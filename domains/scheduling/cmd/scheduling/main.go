// Command scheduling is the scheduling service (docs/scheduling.md): gRPC
// mesh.scheduling.v1.SchedulingService on GRPC_ADDR (default :7005), probes and metrics on
// HTTP_ADDR (default :8005). It needs DATABASE_URL and NATS_URL; it calls logistics at
// LOGISTICS_ADDR and quality at QUALITY_ADDR with its service account
// (SERVICE_CLIENT_ID/SECRET) and consumes
// identity.users.v1, quality.machine-health.v1 and quality.sensor-faults.v1.
package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	logisticsv1 "meshwork.dev/contracts/gen/go/mesh/logistics/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/domains/scheduling/dispatch"
	"meshwork.dev/domains/scheduling/job"
	"meshwork.dev/domains/scheduling/logistics"
	"meshwork.dev/domains/scheduling/postgres"
	"meshwork.dev/domains/scheduling/quality"
	"meshwork.dev/domains/scheduling/rpc"
	"meshwork.dev/domains/scheduling/stream"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

// config is the service's environment (docs/scheduling.md).
type config struct {
	service.Config
	service.ServiceAccount
	DatabaseURL   string `env:"DATABASE_URL,required"`
	CatalogAddr   string `env:"CATALOG_ADDR" default:"127.0.0.1:7000"`
	LogisticsAddr string `env:"LOGISTICS_ADDR" default:"127.0.0.1:7004"`
	FilesAddr     string `env:"FILES_ADDR" default:"127.0.0.1:7002"`
	QualityAddr   string `env:"QUALITY_ADDR" default:"127.0.0.1:7003"`
	// Machines is "id=lat,lng[,low|medium|high];…": where machines stand, for machines quality
	// registers without a location (quality's GetMachine is asked for the others).
	Machines string `env:"MACHINE_LOCATIONS"`
	// NewEngineerSkills, NewEngineerHome ("lat,lng") and NewEngineerShift ("HH:MM-HH:MM",
	// every day) are what a person arriving as an engineer from identity starts with, until a
	// dispatcher sets theirs (make run's demo crew); unset, they start with none.
	NewEngineerSkills string `env:"NEW_ENGINEER_SKILLS"`
	NewEngineerHome   string `env:"NEW_ENGINEER_HOME"`
	NewEngineerShift  string `env:"NEW_ENGINEER_SHIFT"`
}

// fallbackSpeed is the estimated driving speed in km/h when logistics cannot give a travel time.
const fallbackSpeed = 40

// replanPeriod is how often the dispatcher replans without being asked; replanGap is the
// least time between replans asked for by changed travel times.
const (
	replanPeriod = 5 * time.Minute
	replanGap    = 2 * time.Minute
)

// subscribeRetry is how often a consumer retries while an upstream stream does not exist yet.
const subscribeRetry = 5 * time.Second

func main() { service.Main("scheduling", run) }

func run(ctx context.Context, getenv func(string) string) error {
	cfg := config{Config: service.Defaults(":7005", ":8005")}
	if err := service.LoadConfig(getenv, &cfg); err != nil {
		return err
	}
	machines, err := parseMachines(cfg.Machines)
	if err != nil {
		return &service.ConfigError{Problems: []service.ConfigProblem{{Var: "MACHINE_LOCATIONS", Problem: err.Error()}}}
	}
	defaults, err := engineerDefaults(cfg.NewEngineerSkills, cfg.NewEngineerHome, cfg.NewEngineerShift)
	if err != nil {
		return err
	}
	pool, err := service.OpenPostgres(ctx, cfg.DatabaseURL, 0)
	if err != nil {
		return err
	}
	defer pool.Close()
	store := postgres.New(pool)
	store.SetEngineerDefaults(defaults)
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	for _, m := range machines {
		if err := store.UpsertMachine(ctx, m); err != nil {
			return err
		}
	}
	mesh, err := service.JoinMesh(ctx, cfg.NATSURL, "scheduling", cfg.ServiceAccount, stream.Products)
	if err != nil {
		return err
	}
	defer mesh.Close()
	svc, err := service.New(ctx, "scheduling", cfg.Config, service.WithAuthRules(rpc.Rules))
	if err != nil {
		return err
	}
	defer svc.Close()
	defer revocation.Start(ctx, mesh.JS, svc.Revocations(), svc.Logger())()
	creds, err := svc.Credentials(ctx, cfg.ServiceAccount)
	if err != nil {
		return err
	}
	lconn, err := service.Dial(ctx, cfg.LogisticsAddr, creds)
	if err != nil {
		return err
	}
	defer lconn.Close()
	fconn, err := service.Dial(ctx, cfg.FilesAddr)
	if err != nil {
		return err
	}
	defer fconn.Close()
	files := rpc.FilesChecker(filesv1.NewFilesServiceClient(fconn))
	qconn, err := service.Dial(ctx, cfg.QualityAddr, creds)
	if err != nil {
		return err
	}
	defer qconn.Close()
	lclient := logistics.New(logisticsv1.NewLogisticsServiceClient(lconn))
	travel := &job.Fallback{Primary: lclient, Backup: job.Estimate(fallbackSpeed)}
	if err := exportFallbacks(svc.Telemetry().MeterProvider(), travel); err != nil {
		return err
	}
	disp := dispatch.New(store, dispatch.Config{
		Travel:       travel,
		Sequencer:    lclient,
		Locator:      quality.New(qualityv1.NewQualityServiceClient(qconn)),
		ForgetTravel: lclient.Forget,
		Log:          svc.Logger(),
	})
	schedulingv1.RegisterSchedulingServiceServer(svc.GRPC(), rpc.New(store, disp, files, svc.Logger()))
	svc.Ready("postgres", func(ctx context.Context) error { return pool.Ping(ctx) })
	svc.Ready("nats", mesh.Connected)
	if err := background(ctx, svc, pool, mesh.JS, store, disp, cfg.CatalogAddr, creds); err != nil {
		return err
	}
	return svc.Serve(ctx)
}

// exportFallbacks exports f.Failed as the counter scheduling.travel.fallbacks (Prometheus
// scheduling_travel_fallbacks_total): travel times estimated because logistics gave none.
func exportFallbacks(mp metric.MeterProvider, f *job.Fallback) error {
	_, err := mp.Meter("meshwork.dev/domains/scheduling").Int64ObservableCounter("scheduling.travel.fallbacks",
		metric.WithDescription("Travel times estimated because logistics could not give them (down, or no route)."),
		metric.WithUnit("{travel}"),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(f.Failed.Load())
			return nil
		}))
	if err != nil {
		return fmt.Errorf("metric scheduling.travel.fallbacks: %w", err)
	}
	return nil
}

// background starts the consumers, the outbox relay and the catalog registration and stops
// them at shutdown: consumers drained first, then the relay publishes what they committed.
func background(ctx context.Context, svc *service.Service, pool *pgxpool.Pool, js jetstream.JetStream,
	store *postgres.Store, disp *dispatch.Dispatcher, catalogAddr string, creds grpc.DialOption) error {
	bg := svc.Background(ctx)
	if err := bg.Relay(pool, js, stream.ServiceJobs.DuplicateWindow); err != nil {
		return err
	}
	consume, stopConsume := context.WithCancel(bg.Context())
	cons := dispatch.Start(consume, js, store, disp, svc.Logger(), subscribeRetry)
	bg.Go(func(ctx context.Context) error { disp.Run(ctx, replanPeriod, replanGap); return nil })
	bg.Register(catalogAddr, creds, stream.Products...)
	bg.BeforeStop(func(ctx context.Context) error {
		stopConsume()
		return cons.Drain(ctx)
	})
	return nil
}

// parseMachines reads MACHINE_LOCATIONS: "id=lat,lng[,low|medium|high];…".
func parseMachines(s string) ([]postgres.Machine, error) {
	var out []postgres.Machine
	for _, item := range strings.Split(s, ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, rest, ok := strings.Cut(item, "=")
		parts := strings.Split(rest, ",")
		if !ok || id == "" || len(parts) < 2 || len(parts) > 3 {
			return nil, fmt.Errorf("%q is not id=lat,lng[,criticality]", item)
		}
		lat, err1 := strconv.ParseFloat(parts[0], 64)
		lng, err2 := strconv.ParseFloat(parts[1], 64)
		if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lng < -180 || lng > 180 {
			return nil, fmt.Errorf("%q has no valid coordinates", item)
		}
		m := postgres.Machine{ID: id, Location: job.LatLng{Lat: lat, Lng: lng}, Criticality: job.Medium}
		if len(parts) == 3 {
			c, ok := map[string]job.Criticality{"low": job.Low, "medium": job.Medium, "high": job.High}[parts[2]]
			if !ok {
				return nil, fmt.Errorf("%q: criticality must be low, medium or high", item)
			}
			m.Criticality = c
		}
		out = append(out, m)
	}
	return out, nil
}

// engineerDefaults reads NEW_ENGINEER_SKILLS ("a,b"), NEW_ENGINEER_HOME ("lat,lng") and
// NEW_ENGINEER_SHIFT ("HH:MM-HH:MM", the same hours every day; "24:00" ends at midnight).
func engineerDefaults(skills, home, shift string) (job.Engineer, error) {
	var e job.Engineer
	var problems []service.ConfigProblem
	for _, s := range strings.Split(skills, ",") {
		if s = strings.TrimSpace(s); s != "" {
			e.Skills = append(e.Skills, s)
		}
	}
	if home != "" {
		lat, lng, ok := strings.Cut(home, ",")
		la, err1 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
		ln, err2 := strconv.ParseFloat(strings.TrimSpace(lng), 64)
		if !ok || err1 != nil || err2 != nil || la < -90 || la > 90 || ln < -180 || ln > 180 {
			problems = append(problems, service.ConfigProblem{Var: "NEW_ENGINEER_HOME", Problem: fmt.Sprintf("%q is not lat,lng", home)})
		}
		e.Home = job.LatLng{Lat: la, Lng: ln}
	}
	if shift != "" {
		from, to, ok := strings.Cut(shift, "-")
		start, err1 := minuteOfDay(from)
		end, err2 := minuteOfDay(to)
		if !ok || err1 != nil || err2 != nil || end <= start {
			problems = append(problems, service.ConfigProblem{Var: "NEW_ENGINEER_SHIFT", Problem: fmt.Sprintf("%q is not HH:MM-HH:MM with the end after the start", shift)})
		}
		for d := time.Sunday; d <= time.Saturday; d++ {
			e.Shifts = append(e.Shifts, job.Shift{Weekday: d, Start: start, End: end})
		}
	}
	if len(problems) > 0 {
		return job.Engineer{}, &service.ConfigError{Problems: problems}
	}
	return e, nil
}

// minuteOfDay reads "HH:MM" (00:00 to 24:00) as minutes after midnight.
func minuteOfDay(s string) (int, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh*60+mm > 24*60 {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	return hh*60 + mm, nil
}
