package main

import (
	"testing"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
)

// BenchmarkLogin measures sign-ins over gRPC against the running service and its real
// Postgres and Redis, with the production argon2id parameters: password check, throttle
// check, audit row and token signing. The account has no TOTP yet, so each sign-in can
// repeat (a TOTP code works once). Parallel shows the throughput of all cores.
func BenchmarkLogin(b *testing.B) {
	m := start(b)
	p := m.created(b, "bench", identityv1.Role_ROLE_ENGINEER)
	req := &identityv1.LoginRequest{Email: p.email, Password: p.password}
	b.Run("Serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := m.anon.Login(m.ctx, req); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
	b.Run("Parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.anon.Login(m.ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
	})
}

// BenchmarkIssueServiceToken measures the client-credentials grant over gRPC: SHA-256 of the
// secret, the grants query, token signing and an audit row.
func BenchmarkIssueServiceToken(b *testing.B) {
	m := start(b)
	_, created := m.serviceAccount(b, "bench-robot")
	req := &identityv1.IssueServiceTokenRequest{ClientId: created.GetClientId(), ClientSecret: created.GetClientSecret()}
	for b.Loop() {
		if _, err := m.anon.IssueServiceToken(m.ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
