package launcher

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// reachableDir returns a temporary directory the postgres user can enter when the tests run as
// root (t.TempDir makes its directories 0700).
func reachableDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func startInfra(t *testing.T, opts InfraOptions) *Infra {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	inf, err := StartInfra(ctx, opts)
	if err != nil {
		t.Fatalf("StartInfra: %v", err)
	}
	t.Cleanup(func() {
		if err := inf.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return inf
}

// TestInfraKeepsDataAcrossRestarts starts the four servers, writes to each, stops them, starts
// them again on the same directory (and other free ports) and reads everything back. Postgres
// and Redis refuse clients without the password; FerretDB listens on a socket only.
func TestInfraKeepsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(reachableDir(t), ".mesh")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pw, err := loadStorePasswords(dir)
	if err != nil {
		t.Fatal(err)
	}
	opts := InfraOptions{Dir: dir, Databases: []string{"catalog", "quality"}, Passwords: pw}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	inf := startInfra(t, opts)
	ep := inf.Endpoints()
	if ep.PostgresData != filepath.Join(dir, "postgres") || ep.Logs != filepath.Join(dir, "logs") {
		t.Errorf("data %s, logs %s: want both under %s", ep.PostgresData, ep.Logs, dir)
	}
	js := jetStream(t, ep.NATS)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "KEPT", Subjects: []string{"kept.>"}}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, "kept.a", []byte("1")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	dialTCP(t, strings.TrimPrefix(ep.MQTT, "mqtt://"))
	checkStoresRefuseStrangers(t, ep)
	pgExec(t, ep.PostgresURL("quality"), "CREATE TABLE notes (body text)", "INSERT INTO notes VALUES ('kept')")
	rdb := redis.NewClient(mustRedisOptions(t, ep.RedisURL(1)))
	if err := rdb.Set(ctx, "kept", "yes", 0).Err(); err != nil {
		t.Fatalf("redis set: %v", err)
	}
	rdb.Close()
	coll := mongoCollection(t, ep.MongoURI("files"))
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "kept"}); err != nil {
		t.Fatalf("mongo insert: %v", err)
	}
	if err := inf.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	inf = startInfra(t, opts) // creating the databases again is no error
	ep = inf.Endpoints()
	s, err := jetStream(t, ep.NATS).Stream(ctx, "KEPT")
	if err != nil || s.CachedInfo().State.Msgs != 1 {
		t.Errorf("stream after restart: %v, want it with 1 message", err)
	}
	var body string
	checkStoresRefuseStrangers(t, ep)
	conn, err := pgx.Connect(ctx, ep.PostgresURL("quality"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, "SELECT body FROM notes").Scan(&body); err != nil || body != "kept" {
		t.Errorf("postgres after restart: %q, %v", body, err)
	}
	if _, err := pgx.Connect(ctx, ep.PostgresURL("catalog")); err != nil {
		t.Errorf("catalog database: %v", err)
	}
	rdb = redis.NewClient(mustRedisOptions(t, ep.RedisURL(1)))
	defer rdb.Close()
	if v, err := rdb.Get(ctx, "kept").Result(); err != nil || v != "yes" {
		t.Errorf("redis after restart: %q, %v", v, err)
	}
	if n, err := mongoCollection(t, ep.MongoURI("files")).CountDocuments(ctx, bson.M{"_id": "kept"}); err != nil || n != 1 {
		t.Errorf("mongo after restart: %d documents, %v", n, err)
	}
	for _, name := range []string{"nats", "ferretdb", "postgres", "redis"} {
		if b, err := os.ReadFile(filepath.Join(dir, "logs", name+".log")); err != nil || strings.Count(string(b), "--- meshctl up") != 2 {
			t.Errorf("logs/%s.log: %v, want two runs' headers in:\n%s", name, err, b)
		}
	}
}

// checkStoresRefuseStrangers: the URLs without the password (endpoints.json's) are refused by
// Postgres and Redis, the password is nowhere in endpoints.json, and FerretDB has no TCP port.
func checkStoresRefuseStrangers(t *testing.T, ep Endpoints) {
	t.Helper()
	ctx := context.Background()
	if ep.PostgresPassword == "" || ep.RedisPassword == "" {
		t.Fatal("no store passwords in the endpoints")
	}
	if c, err := pgx.Connect(ctx, ep.Databases["quality"]); err == nil {
		c.Close(ctx)
		t.Error("Postgres accepted a client without the password")
	} else if !strings.Contains(err.Error(), "password") {
		t.Errorf("Postgres without the password: %v, want a password failure", err)
	}
	anon := redis.NewClient(mustRedisOptions(t, ep.Redis+"/1"))
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("Redis without the password: %v, want NOAUTH", err)
	}
	if !strings.HasPrefix(ep.MongoDB, "mongodb://%2F") || !strings.HasSuffix(ep.MongoDB, ".sock/") {
		t.Errorf("MongoDB %q, want FerretDB's Unix socket", ep.MongoDB)
	}
	b, err := json.Marshal(ep)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{ep.PostgresPassword, ep.RedisPassword} {
		if strings.Contains(string(b), secret) {
			t.Errorf("endpoints JSON holds a store password: %s", b)
		}
	}
}

// TestInfraPortInUse checks the one line naming the port, the server and the likely cause.
func TestInfraPortInUse(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = StartInfra(context.Background(), InfraOptions{Dir: t.TempDir(), Ports: Ports{Redis: port}})
	want := "port " + itoa(port) + " (Redis) is already in use: is another `meshctl up` running?"
	if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Errorf("StartInfra with a busy port: %v, want one line with %q", err, want)
	}
	err = checkPorts([]namedPort{{port, "Postgres"}, {0, "free"}, {port, "catalog HTTP"}})
	want = "port " + itoa(port) + " (Postgres), port " + itoa(port) + " (catalog HTTP) are already in use"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("checkPorts: %v, want %q", err, want)
	}
}

func TestEndpointsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ep := Endpoints{NATS: "nats://127.0.0.1:4222", Postgres: "postgres://postgres@127.0.0.1:15432", Redis: "redis://127.0.0.1:16379",
		MongoDB: "mongodb://%2Fsrc%2F.mesh%2Frun%2Fferretdb.sock/", PostgresPassword: "pgpw", RedisPassword: "rpw"}
	if err := writeEndpoints(dir, ep.withServices(Services())); err != nil {
		t.Fatal(err)
	}
	var got Endpoints
	b, err := os.ReadFile(filepath.Join(dir, EndpointsFile))
	if err != nil || json.Unmarshal(b, &got) != nil {
		t.Fatalf("read back: %v\n%s", err, b)
	}
	if strings.Contains(string(b), "pgpw") || strings.Contains(string(b), "rpw") {
		t.Errorf("endpoints.json holds a store password:\n%s", b)
	}
	if got.Services["quality"] != (ServiceEndpoints{GRPC: "127.0.0.1:7003", HTTP: "http://127.0.0.1:8003"}) || len(got.Services) != 6 {
		t.Errorf("services = %+v, want the six services and no simulator", got.Services)
	}
	for _, c := range []struct{ got, want string }{
		{ep.PostgresURL("catalog"), "postgres://postgres:pgpw@127.0.0.1:15432/catalog?sslmode=disable"},
		{ep.RedisURL(2), "redis://:rpw@127.0.0.1:16379/2"},
		{ep.MongoURI("files"), "mongodb://%2Fsrc%2F.mesh%2Frun%2Fferretdb.sock/files"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}

func jetStream(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("nats connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func dialTCP(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.Close()
}

func pgExec(t *testing.T, url string, sqls ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	defer conn.Close(ctx)
	for _, sql := range sqls {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
}

func mustRedisOptions(t *testing.T, u string) *redis.Options {
	t.Helper()
	o, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func mongoCollection(t *testing.T, uri string) *mongo.Collection {
	t.Helper()
	c, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Disconnect(context.Background()) })
	// The database is the URI's path; a socket's host is escaped, so it holds no '/'.
	db, _, _ := strings.Cut(uri[strings.LastIndex(uri, "/")+1:], "?")
	return c.Database(db).Collection("notes")
}

func itoa(n int) string { return strconv.Itoa(n) }
