package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"meshwork.dev/platform/auth/authtest"
)

// BenchmarkVerify measures verifying a valid Ed25519 token with the key set cached — in full,
// from the verified-token cache, and as the unary interceptor runs it for each call (metadata,
// rule check, claims in context).
func BenchmarkVerify(b *testing.B) {
	iss := authtest.NewIssuer(b)
	v, err := NewVerifier(VerifierConfig{JWKSURL: iss.JWKSURL(), Issuer: iss.Issuer, Audience: iss.Audience})
	if err != nil {
		b.Fatal(err)
	}
	token := iss.Token(b, "user-1", []string{"dispatcher"}, []string{"quality:read", "quality:write"})
	ctx := context.Background()
	if _, err := v.Verify(ctx, token); err != nil { // warm the key cache
		b.Fatal(err)
	}

	// The baseline: the Ed25519 signature check alone, over a message the size of the token's
	// signing input. Everything else the verifier does is overhead on this.
	b.Run("ed25519-only", func(b *testing.B) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		msg := []byte(token[:len(token)-87]) // header.payload; an Ed25519 signature is 86 base64url chars
		sig := ed25519.Sign(priv, msg)
		b.ReportAllocs()
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("signature does not verify")
			}
		}
	})

	// Every call checks the signature: the first call of each token, and every call with the
	// cache turned off.
	b.Run("Verifier-uncached", func(b *testing.B) {
		uncached, err := NewVerifier(VerifierConfig{JWKSURL: iss.JWKSURL(), Issuer: iss.Issuer, Audience: iss.Audience, CacheSize: -1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := uncached.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})

	// A caller repeating its token: the verified-token cache answers.
	b.Run("Verifier", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(ctx, token); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("UnaryInterceptor", func(b *testing.B) {
		const method = "/mesh.quality.v1.QualityService/GetMachine"
		g := NewGuard(v, Rules{method: AnyRole("admin", "dispatcher").AllScopes("quality:read")}, nil)
		intercept := g.Unary()
		info := &grpc.UnaryServerInfo{FullMethod: method}
		handler := func(ctx context.Context, _ any) (any, error) {
			if _, ok := FromContext(ctx); !ok {
				b.Fatal("no claims in the handler's context")
			}
			return nil, nil
		}
		inCtx := metadata.NewIncomingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := intercept(inCtx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
