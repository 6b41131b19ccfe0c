package localserver_test

import (
	"context"
	"path/filepath"
	"testing"

	"meshwork.dev/platform/localserver"
)

// The benchmarks measure how long each server takes from Start until it answers, plus its stop.
// Run: go test -run '^$' -bench Start -benchtime 5x ./localserver

func BenchmarkStartNATS(b *testing.B) {
	for b.Loop() {
		n, err := localserver.StartNATS(localserver.NATSOptions{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		n.Shutdown()
	}
}

// BenchmarkStartPostgres includes initdb of a fresh ephemeral cluster, as testinfra does.
func BenchmarkStartPostgres(b *testing.B) {
	for b.Loop() {
		dir := filepath.Join(reachableDir(b), "pg")
		pg, err := localserver.StartPostgres(context.Background(), localserver.PostgresOptions{Dir: dir, Ephemeral: true})
		if err != nil {
			b.Fatal(err)
		}
		if err := pg.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartRedis(b *testing.B) {
	for b.Loop() {
		r, err := localserver.StartRedis(context.Background(), localserver.RedisOptions{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStartFerretDB(b *testing.B) {
	for b.Loop() {
		fd, err := localserver.StartFerretDB(context.Background(), localserver.FerretDBOptions{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := fd.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestartPostgres measures stopping and starting a cluster that already exists (what
// `meshctl up` does on its second run), without initdb.
func BenchmarkRestartPostgres(b *testing.B) {
	dir := filepath.Join(reachableDir(b), "pg")
	opts := localserver.PostgresOptions{Dir: dir}
	pg, err := localserver.StartPostgres(context.Background(), opts)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := pg.Stop(context.Background()); err != nil {
			b.Fatal(err)
		}
		if pg, err = localserver.StartPostgres(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
	if err := pg.Stop(context.Background()); err != nil {
		b.Fatal(err)
	}
}
