package web_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalog"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/catalog/changes"
	"meshwork.dev/platform/catalog/governance"
	"meshwork.dev/platform/catalog/observe"
	"meshwork.dev/platform/catalog/postgres"
	"meshwork.dev/platform/catalog/web"
	governedaccess "meshwork.dev/platform/catalog/web/governed"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/outbox"
	"meshwork.dev/platform/testinfra"
)

func TestMain(m *testing.M) { testinfra.Main(m) }

// env is the real catalog (Postgres store, JetStream observer) behind a console.
type env struct {
	nats   *testinfra.NATS
	js     jetstream.JetStream
	pool   *pgxpool.Pool
	store  *postgres.Store
	gov    *governance.Governor // with governed
	cat    *catalog.Catalog
	server *httptest.Server
}

// newEnv starts Postgres and NATS and the catalog over them; cfg completes the console's
// configuration (Catalog, JetStream and Revisions are set here).
func newEnv(t testing.TB, cfg web.Config) *env {
	t.Helper()
	return newEnvOn(t, testinfra.StartNATS(t), cfg)
}

// newEnvOn is newEnv on a NATS server the test started. Each setup may complete cfg once the
// store and the catalog exist.
func newEnvOn(t testing.TB, n *testinfra.NATS, cfg web.Config, setup ...func(*env, *web.Config)) *env {
	t.Helper()
	ctx := context.Background()
	pg := testinfra.StartPostgres(t)
	e := &env{nats: n, js: n.JetStream(t), pool: pg.Pool(t)}
	e.store = postgres.New(e.pool, changes.Message)
	if err := e.store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e.cat = catalog.New(e.store, observe.New(e.js))
	cfg.Catalog, cfg.JetStream, cfg.Revisions = e.cat, e.js, e.store.Revisions
	for _, f := range setup {
		f(e, &cfg)
	}
	e.server = httptest.NewServer(muxOf(web.New(cfg)))
	t.Cleanup(e.server.Close)
	return e
}

// register registers d and provisions its stream as its owner would.
func (e *env) register(t testing.TB, d *platformv1.DataProductDescriptor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.cat.Register(ctx, d); err != nil {
		t.Fatalf("register %s: %v", d.GetName(), err)
	}
	if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: d.GetStream(), Subjects: d.GetSubjects(), MaxAge: d.GetRetention().AsDuration()}); err != nil {
		t.Fatalf("stream %s: %v", d.GetStream(), err)
	}
}

// publish sends one event of product d with key and payload, CloudEvents headers and all.
func (e *env) publish(t testing.TB, d *platformv1.DataProductDescriptor, key string, payload proto.Message) {
	t.Helper()
	b, err := proto.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	msg := natsMsg(strings.TrimSuffix(d.GetSubjects()[0], ">")+key, b)
	msg.Header.Set(dataproduct.HeaderSpecVersion, "1.0")
	msg.Header.Set(dataproduct.HeaderID, key+"-"+time.Now().Format(time.RFC3339Nano))
	msg.Header.Set(dataproduct.HeaderSource, "/domains/"+d.GetDomain())
	msg.Header.Set(dataproduct.HeaderType, d.GetSchema().GetMessageName())
	msg.Header.Set(dataproduct.HeaderSubject, key)
	msg.Header.Set(dataproduct.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	msg.Header.Set(dataproduct.HeaderContentType, "application/protobuf")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.js.PublishMsg(ctx, msg); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// consume creates a durable consumer named as domain's consumer of d, so lineage observes it.
func (e *env) consume(t testing.TB, d *platformv1.DataProductDescriptor, domain string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := domain + "--" + strings.ReplaceAll(d.GetName(), ".", "_")
	if _, err := e.js.CreateOrUpdateConsumer(ctx, d.GetStream(), jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
}

// products are the mesh the browser tests look at: readings with a PII field, health derived
// from readings (declared and consumed), jobs derived from health (declared, not consumed),
// and readings also read by billing, which declares nothing (observed only).
func products() (readings, health, jobs *platformv1.DataProductDescriptor) {
	readings = catalogtest.Descriptor("lab.readings.v1", append(catalogtest.BaseFields, catalogtest.Field{Name: "operator_email", Number: 4, Type: catalogtest.String, PII: true})...)
	readings.Tags = []string{"sensors", "raw"}
	health = catalogtest.Descriptor("care.health.v1", catalogtest.BaseFields...)
	health.Upstreams = []string{"lab.readings.v1"}
	health.Tags = []string{"sensors"}
	jobs = catalogtest.Descriptor("plan.jobs.v1", catalogtest.BaseFields...)
	jobs.Upstreams = []string{"care.health.v1"}
	return readings, health, jobs
}

// governed gives the console the catalog's real access API: the governor over the env's store,
// its events relayed from the outbox to the governance streams (the audit trail among them), and
// tokens verified against identity's key set at jwksURL, as the catalog's main wires it.
func governed(t testing.TB, jwksURL string) func(*env, *web.Config) {
	return func(e *env, cfg *web.Config) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		if err := governance.ProvisionStreams(ctx, e.js); err != nil {
			t.Fatal(err)
		}
		relay, err := outbox.NewRelay(e.pool, e.js, outbox.RelayConfig{DuplicateWindow: changes.Product.DuplicateWindow})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- relay.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		verifier, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: jwksURL, Issuer: "meshwork-identity", Audience: "meshwork"})
		if err != nil {
			t.Fatal(err)
		}
		e.gov = governance.New(e.store, e.cat, nil)
		cfg.Access = governedaccess.New(e.gov, verifier, e.js)
	}
}
