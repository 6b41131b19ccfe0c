package auth

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"meshwork.dev/platform/errs"
)

// alwaysOpen are the method prefixes every service serves without a token: health checks and
// server reflection (so probes and grpcurl work).
var alwaysOpen = []string{
	"/grpc.health.v1.Health/",
	"/grpc.reflection.v1.ServerReflection/",
	"/grpc.reflection.v1alpha.ServerReflection/",
}

// Guard enforces Rules in gRPC server interceptors. It fails closed: a method with no rule is
// refused with PermissionDenied (and logged once per method), a call without a valid token to
// a non-public method with Unauthenticated, a call whose claims do not satisfy the rule with
// PermissionDenied. Handlers of allowed calls find the Claims with FromContext.
type Guard struct {
	verifier *Verifier
	rules    Rules
	log      *slog.Logger
	warned   sync.Map // method name -> struct{}, for unlisted methods already logged
}

// NewGuard returns a Guard checking tokens with v against rules. A nil rules map denies every
// method but health and reflection; a nil log uses slog.Default().
func NewGuard(v *Verifier, rules Rules, log *slog.Logger) *Guard {
	if log == nil {
		log = slog.Default()
	}
	return &Guard{verifier: v, rules: rules, log: log}
}

// Unary returns the unary server interceptor.
func (g *Guard) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.Authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor.
func (g *Guard) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.Authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// Authorize decides a call to method with incoming metadata in ctx. It returns ctx with the
// caller's Claims, or a gRPC status error (Unauthenticated, PermissionDenied, or Unavailable
// when the signing keys cannot be fetched).
func (g *Guard) Authorize(ctx context.Context, method string) (context.Context, error) {
	for _, p := range alwaysOpen {
		if strings.HasPrefix(method, p) {
			return ctx, nil
		}
	}
	rule, ok := g.rules[method]
	if !ok {
		if _, seen := g.warned.LoadOrStore(method, struct{}{}); !seen {
			g.log.WarnContext(ctx, "auth: method has no access rule; every call is denied", "method", method)
		}
		return ctx, status.Errorf(codes.PermissionDenied, "no access rule for %s", method)
	}
	token, err := bearer(ctx)
	if rule.kind == rulePublic {
		if err == nil && token != "" && g.verifier != nil {
			if c, err := g.verifier.Verify(ctx, token); err == nil {
				ctx = WithClaims(ctx, c)
			}
		}
		return ctx, nil
	}
	switch {
	case err != nil:
		return ctx, err
	case token == "":
		return ctx, status.Error(codes.Unauthenticated, "missing bearer token")
	case g.verifier == nil:
		return ctx, status.Error(codes.Unauthenticated, "this server verifies no tokens")
	}
	c, err := g.verifier.Verify(ctx, token)
	if err != nil {
		code := codes.Unauthenticated
		if errs.Is(err, errs.Unavailable) {
			code = codes.Unavailable
		}
		return ctx, status.Error(code, errs.Message(err))
	}
	if !rule.Allows(c) {
		return ctx, status.Errorf(codes.PermissionDenied, "%s requires %s", method, rule)
	}
	return WithClaims(ctx, c), nil
}

// bearer returns the token from the "authorization: Bearer <token>" metadata, "" when there is
// none, or an Unauthenticated status when the metadata is malformed.
func bearer(ctx context.Context) (string, error) {
	vals := metadata.ValueFromIncomingContext(ctx, "authorization")
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", status.Error(codes.Unauthenticated, "more than one authorization value")
	}
	scheme, token, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return "", status.Error(codes.Unauthenticated, `authorization must be "Bearer <token>"`)
	}
	return strings.TrimSpace(token), nil
}

// contextStream is a ServerStream whose Context carries the caller's Claims.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
