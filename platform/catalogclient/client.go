// Package catalogclient registers a domain's data products in the catalog at start-up.
//
//	conn, _ := service.Dial(ctx, cfg.CatalogAddr, grpc.WithPerRPCCredentials(auth.BearerToken(serviceToken)))
//	if err := catalogclient.Register(ctx, conn, quality.CleanReadings, quality.MachineHealth); err != nil {
//		return err // a governance violation or a breaking schema change: fix the declaration
//	}
//
// Registration is idempotent, so every replica registers at every start. The connection must
// carry a token with the service (or admin) role.
package catalogclient

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/errs"
)

// Backoff between attempts while the catalog is unavailable: doubling from the first delay
// up to the last, each with up to 20% jitter.
const (
	FirstBackoff = 100 * time.Millisecond
	MaxBackoff   = 5 * time.Second
)

// Register registers each product's Descriptor, in order. While the catalog answers
// UNAVAILABLE (not up yet, restarting) it retries with backoff until ctx ends. It fails at
// once, without registering the products after it, when a product is invalid
// (errs.Invalid), when the catalog refuses a descriptor (INVALID_ARGUMENT: errs.Invalid;
// FAILED_PRECONDITION: errs.FailedPrecondition, e.g. a breaking change within a major) with
// the full message including every field violation and breaking change, and for any other
// failure. Governance warnings are logged with slog.Default.
func Register(ctx context.Context, conn grpc.ClientConnInterface, products ...dataproduct.Product) error {
	const op = "catalogclient.Register"
	client := platformv1.NewCatalogServiceClient(conn)
	for _, p := range products {
		if err := p.Validate(); err != nil {
			return errs.Wrap(op, err)
		}
		resp, err := register(ctx, client, &platformv1.RegisterProductRequest{Descriptor_: p.Descriptor()})
		if err != nil {
			return errs.Wrap(op, fmt.Errorf("%s: %w", p.ID(), err))
		}
		for _, w := range resp.GetWarnings() {
			slog.WarnContext(ctx, "catalog: governance warning", "product", p.ID(), "rule", w.GetRuleId(),
				"field", w.GetField(), "message", w.GetMessage(), "hint", w.GetHint())
		}
	}
	return nil
}

// register calls RegisterProduct until it succeeds, fails for good, or ctx ends.
func register(ctx context.Context, client platformv1.CatalogServiceClient, req *platformv1.RegisterProductRequest) (*platformv1.RegisterProductResponse, error) {
	delay, last := FirstBackoff, ""
	for {
		resp, err := client.RegisterProduct(ctx, req)
		if err == nil {
			return resp, nil
		}
		st := status.Convert(err)
		switch {
		case ctx.Err() != nil && last != "":
			return nil, errs.Errorf("catalogclient.register", errs.Unavailable, "catalog still unavailable (%s) when %w", last, ctx.Err())
		case st.Code() != codes.Unavailable:
			return nil, classify(st)
		}
		last = st.Message()
		t := time.NewTimer(delay + time.Duration(rand.Int64N(int64(delay)/5+1)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, errs.Errorf("catalogclient.register", errs.Unavailable, "catalog still unavailable (%s) when %w", last, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, MaxBackoff)
	}
}

var kinds = map[codes.Code]errs.Kind{
	codes.InvalidArgument:    errs.Invalid,
	codes.FailedPrecondition: errs.FailedPrecondition,
	codes.Unauthenticated:    errs.Unauthenticated,
	codes.PermissionDenied:   errs.Forbidden,
	codes.DeadlineExceeded:   errs.Unavailable,
	codes.Canceled:           errs.Unavailable,
}

// classify turns a final status into an error of the matching kind whose message holds the
// status message and every detail.
func classify(st *status.Status) error {
	kind, ok := kinds[st.Code()]
	if !ok {
		kind = errs.Internal
	}
	return &errs.Error{Kind: kind, Msg: Describe(st), Err: st.Err()}
}

// Describe renders a status with its BadRequest field violations and PreconditionFailure
// violations, e.g. `FailedPrecondition: 2 breaking schema change(s) ...; BREAKING_CHANGE
// mesh.lab.v1.Reading.value: field removed ...`.
func Describe(st *status.Status) string {
	parts := []string{st.Code().String() + ": " + st.Message()}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				parts = append(parts, v.GetField()+": "+v.GetDescription())
			}
		case *errdetails.PreconditionFailure:
			for _, v := range d.GetViolations() {
				parts = append(parts, v.GetType()+" "+v.GetSubject()+": "+v.GetDescription())
			}
		}
	}
	return strings.Join(parts, "; ")
}
