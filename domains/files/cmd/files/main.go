// Command files is the files service (docs/files.md): gRPC mesh.files.v1.FilesService on
// GRPC_ADDR (default :7002); presigned PUT/GET, probes and metrics on HTTP_ADDR (default
// :8002). It needs MONGODB_URI (the database is the URI's path), NATS_URL and
// KEY_ENCRYPTION_KEY. Subcommand: rotate-kek (commands.go).
package main

import (
	"context"
	"os"
	"strings"

	drv "go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	filesv1 "meshwork.dev/contracts/gen/go/mesh/files/v1"
	"meshwork.dev/domains/files/mongo"
	"meshwork.dev/domains/files/presign"
	"meshwork.dev/domains/files/rpc"
	"meshwork.dev/domains/files/stream"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/revocation"
	"meshwork.dev/platform/service"
)

func main() {
	if code, handled := command(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); handled {
		os.Exit(code)
	}
	service.Main("files", run)
}

func run(ctx context.Context, getenv func(string) string) error {
	cfg := config{Config: service.Defaults(":7002", ":8002")}
	sec, err := load(getenv, &cfg)
	if err != nil {
		return err
	}
	db, closeDB, err := openDB(ctx, cfg.MongoURI)
	if err != nil {
		return err
	}
	defer closeDB()
	store := mongo.New(db, sec.kek, mongo.Limits{MaxSize: cfg.MaxFileSize, Quota: cfg.OwnerQuota})
	if err := store.Migrate(ctx); err != nil {
		return err
	}
	mesh, err := service.JoinMesh(ctx, cfg.NATSURL, "files", cfg.ServiceAccount, []dataproduct.Product{stream.FileEvents})
	if err != nil {
		return err
	}
	defer mesh.Close()
	svc, err := service.New(ctx, "files", cfg.Config, service.WithAuthRules(rpc.Rules))
	if err != nil {
		return err
	}
	defer svc.Close()
	defer revocation.Start(ctx, mesh.JS, svc.Revocations(), svc.Logger())()
	signer := presign.NewSigner(sec.presign, publicURL(cfg, svc.HTTPAddr()))
	filesv1.RegisterFilesServiceServer(svc.GRPC(), rpc.New(store, signer))
	(&presign.Handler{Signer: signer, Store: store, Log: svc.Logger(), Now: now}).Register(svc.HTTP())
	svc.Ready("mongodb", store.Ping)
	svc.Ready("nats", mesh.Connected)
	if err := background(ctx, svc, store, mesh.JS, cfg); err != nil {
		return err
	}
	return svc.Serve(ctx)
}

// openDB connects to MongoDB and returns the database named by the URI's path.
func openDB(ctx context.Context, uri string) (*drv.Database, func(), error) {
	name := "files"
	if rest, ok := strings.CutPrefix(uri, "mongodb://"); ok {
		if i := strings.Index(rest, "/"); i >= 0 {
			if n, _, _ := strings.Cut(rest[i+1:], "?"); n != "" {
				name = n
			}
		}
	}
	client, err := drv.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		return nil, nil, &service.ConfigError{Problems: []service.ConfigProblem{{Var: "MONGODB_URI", Problem: "is not a mongodb:// URI"}}}
	}
	return client.Database(name), func() { _ = client.Disconnect(context.WithoutCancel(ctx)) }, nil
}
