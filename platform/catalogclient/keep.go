package catalogclient

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// KeepRetry is the wait between Keep's attempts after a failure that may pass (the catalog or
// identity not up yet, a token not yet issued).
const KeepRetry = 5 * time.Second

// Keep registers products the way a service does at start-up, in the background: it calls
// Register until it succeeds, the catalog refuses the products for good (errs.Invalid: a
// governance violation; errs.FailedPrecondition: a breaking change within a major), or ctx
// ends, and logs the outcome. Any other failure — the catalog or identity still starting, a
// token that cannot be had yet — is retried after KeepRetry. Run it in its own goroutine; it
// returns when it is done.
func Keep(ctx context.Context, log *slog.Logger, conn grpc.ClientConnInterface, products ...dataproduct.Product) {
	keep(ctx, log, conn, KeepRetry, products...)
}

func keep(ctx context.Context, log *slog.Logger, conn grpc.ClientConnInterface, retry time.Duration, products ...dataproduct.Product) {
	ids := make([]string, len(products))
	for i, p := range products {
		ids[i] = p.ID()
	}
	for {
		err := Register(ctx, conn, products...)
		switch {
		case err == nil:
			log.InfoContext(ctx, "registered data products", "products", ids)
			return
		case ctx.Err() != nil:
			log.WarnContext(ctx, "data products not registered before shutdown", "products", ids, "err", err)
			return
		case errs.Is(err, errs.Invalid) || errs.Is(err, errs.FailedPrecondition):
			log.ErrorContext(ctx, "the catalog refused the data products", "products", ids, "err", err)
			return
		}
		log.WarnContext(ctx, "catalog registration failed; retrying", "products", ids, "err", err, "in", retry.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
	}
}
