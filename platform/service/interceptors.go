package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"meshwork.dev/platform/errs"
)

// recoverUnary turns a panicking handler into codes.Internal and logs the stack; the process
// keeps serving.
func (s *Service) recoverUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.panicked(ctx, info.FullMethod, r)
		}
	}()
	return handler(ctx, req)
}

func (s *Service) recoverStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = s.panicked(ss.Context(), info.FullMethod, r)
		}
	}()
	return handler(srv, ss)
}

func (s *Service) panicked(ctx context.Context, method string, r any) error {
	s.log.ErrorContext(ctx, "panic in gRPC handler", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, internalMessage(ctx))
}

// mapErrorsUnary turns handler errors into gRPC statuses (see toStatus).
func (s *Service) mapErrorsUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	resp, err := handler(ctx, req)
	if err != nil {
		return resp, s.toStatus(ctx, info.FullMethod, err)
	}
	return resp, nil
}

func (s *Service) mapErrorsStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := handler(srv, ss); err != nil {
		return s.toStatus(ss.Context(), info.FullMethod, err)
	}
	return nil
}

var kindCodes = map[errs.Kind]codes.Code{
	errs.Invalid:            codes.InvalidArgument,
	errs.NotFound:           codes.NotFound,
	errs.Conflict:           codes.AlreadyExists,
	errs.FailedPrecondition: codes.FailedPrecondition,
	errs.Forbidden:          codes.PermissionDenied,
	errs.Unauthenticated:    codes.Unauthenticated,
	errs.ResourceExhausted:  codes.ResourceExhausted,
	errs.Unavailable:        codes.Unavailable,
}

// toStatus maps err to the status the client sees. A *status error passes through unchanged.
// An error with an errs kind gets that kind's code and errs.Message; Invalid errors carry their
// field violations as google.rpc.BadRequest details. An unclassified error that wraps a status
// (from a downstream call) keeps that status; a cancelled or expired context becomes Canceled
// or DeadlineExceeded. Everything else is Internal: logged here, and reported to the client
// without detail.
func (s *Service) toStatus(ctx context.Context, method string, err error) error {
	if _, ok := err.(grpcStatusError); ok {
		return err
	}
	kind := kindSet(err)
	if code, ok := kindCodes[kind]; ok {
		st := status.New(code, errs.Message(err))
		if vs := errs.Violations(err); kind == errs.Invalid && len(vs) > 0 {
			br := &errdetails.BadRequest{}
			for _, v := range vs {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
			}
			if withDetails, derr := st.WithDetails(br); derr == nil {
				st = withDetails
			}
		}
		return st.Err()
	}
	if kind == 0 {
		if se, ok := errors.AsType[grpcStatusError](err); ok {
			return se.GRPCStatus().Err()
		}
		switch {
		case errors.Is(err, context.Canceled):
			return status.Error(codes.Canceled, "canceled")
		case errors.Is(err, context.DeadlineExceeded):
			return status.Error(codes.DeadlineExceeded, "deadline exceeded")
		}
	}
	s.log.ErrorContext(ctx, "internal error", "method", method, "err", err.Error())
	return status.Error(codes.Internal, internalMessage(ctx))
}

// grpcStatusError is an error made by package status.
type grpcStatusError interface {
	error
	GRPCStatus() *status.Status
}

// kindSet returns the first kind set along err's chain of *errs.Error values, or 0.
func kindSet(err error) errs.Kind {
	for err != nil {
		e, ok := errors.AsType[*errs.Error](err)
		if !ok {
			return 0
		}
		if e.Kind != 0 {
			return e.Kind
		}
		err = e.Err
	}
	return 0
}

// internalMessage is what a client learns about an internal error: only the trace to look up.
func internalMessage(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return "internal error (trace " + sc.TraceID().String() + ")"
	}
	return "internal error"
}
