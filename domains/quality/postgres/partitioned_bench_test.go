package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	"meshwork.dev/domains/quality/pipeline"
	"meshwork.dev/domains/quality/postgres"
	"meshwork.dev/domains/quality/readings"
	"meshwork.dev/domains/quality/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
	"meshwork.dev/platform/testinfra"
)

// benchMachines × benchSensors sensors: enough machines for every partition to hold some.
const benchMachines, benchSensors = 32, 4

// BenchmarkPartitionedRawToClean is the raw → clean path under saturation with R replicas
// consuming raw readings in pipeline.DefaultPartitions partitions (each replica its own NATS
// connection and Postgres pool, as separate processes would have, in this one process), and
// as the baseline of the same run the single unpartitioned batch consumer (ConsumeBatches,
// what one replica ran before). b.N raw readings over 32 machines × 4 sensors are published
// at once; the clock stops when the clean stream holds b.N readings.
//
// The cluster cases run the same on the three-node cluster of `meshctl up --ha`
// (testinfra.StartNATSCluster: sync_interval always) with every product stream at R3, the
// partitions' work streams taking the product stream's count.
func BenchmarkPartitionedRawToClean(b *testing.B) {
	for _, cluster := range []bool{false, true} {
		prefix := ""
		if cluster {
			prefix = "cluster-R3/"
		}
		b.Run(prefix+"single-unpartitioned", func(b *testing.B) { servicePath(b, 0, cluster) })
		for _, r := range []int{1, 2, 3} {
			b.Run(fmt.Sprintf("%sreplicas=%d", prefix, r), func(b *testing.B) { servicePath(b, r, cluster) })
		}
	}
}

// servicePath runs the path with replicas partitioned replicas, or the single consumer for 0,
// on one NATS server or on the three-node cluster with R3 streams.
func servicePath(b *testing.B, replicas int, cluster bool) {
	ctx := context.Background()
	serviceGC(b)
	var srv servers
	if cluster {
		srv = startServersOn(b, ctx, testinfra.StartNATSCluster(b).NATS, 3)
	} else {
		srv = startServers(b, ctx)
	}
	n, pg, js := srv.nats, srv.pg, srv.js
	reg := registry{}
	for m := range benchMachines {
		for s := range benchSensors {
			id, machine := fmt.Sprintf("s%d", s), fmt.Sprintf("m%02d", m)
			reg[machine+"/"+id] = readings.Spec{ID: id, Machine: machine, Kind: readings.Temperature, Min: -20, Max: 150, Interval: time.Second}
		}
	}
	pool := func() *pgxpool.Pool {
		cfg, err := pgxpool.ParseConfig(pg.URL)
		if err != nil {
			b.Fatal(err)
		}
		cfg.MaxConns = 10 // the service's least pool size
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.Close)
		return p
	}
	if replicas == 0 {
		st := postgres.New(pool())
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		cjs := n.JetStream(b) // closed after the consumer's cleanup below has stopped it
		go func() {
			done <- st.ConsumeBatches(rctx, cjs, pipeline.NewProcessor(reg, st), postgres.BatchConfig{Logger: slog.New(slog.DiscardHandler)})
		}()
		b.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				b.Error(err)
			}
		})
	}
	var group []*postgres.Partitions
	for i := range replicas {
		st := postgres.New(pool())
		cfg := pipeline.PartitionConfig(pipeline.DefaultPartitions)
		cfg.Replica = fmt.Sprintf("r%d", i)
		cfg.Logger = slog.New(slog.DiscardHandler)
		pt, err := st.JoinPartitions(ctx, n.JetStream(b), pipeline.NewProcessor(reg, st), cfg)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = pt.Leave(context.Background()) })
		group = append(group, pt)
	}
	// Timed from a settled group: every replica owns the partitions the assignment gives it.
	var names []string
	for _, pt := range group {
		names = append(names, pt.Replica())
	}
	want := partition.Assign(names, pipeline.DefaultPartitions)
	deadline := time.Now().Add(time.Minute)
	for _, pt := range group {
		for !slices.Equal(pt.Owned(), want[pt.Replica()]) {
			if time.Now().After(deadline) {
				b.Fatalf("replica %s owns %v, not %v", pt.Replica(), pt.Owned(), want[pt.Replica()])
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	pub, err := dataproduct.NewPublisher(js, stream.RawReadings)
	if err != nil {
		b.Fatal(err)
	}
	clean, err := js.Stream(ctx, stream.CleanReadings.StreamName())
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		machine := fmt.Sprintf("m%02d", i%benchMachines)
		r := &qualityv1.RawReading{MachineId: machine, SensorId: fmt.Sprintf("s%d", (i/benchMachines)%benchSensors),
			SampledAt: timestamppb.New(time.Unix(int64(i), 0)), Value: 40 + float64(i%7)/10}
		if err := pub.PublishAsync(ctx, machine, r); err != nil {
			b.Fatal(err)
		}
	}
	waitClean(b, clean)
}
