package natsauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/auth/authtest"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/testinfra"
)

// mesh is a server with a callout trusting a test issuer, and grants a test can change.
type mesh struct {
	n       *testinfra.NATS
	iss     *authtest.Issuer
	callout *natsauth.Callout
	mu      sync.Mutex
	grants  map[string][]natsauth.Grant // by user id or service domain
	refused []natsauth.Refusal
}

func newMesh(t testing.TB) *mesh {
	t.Helper()
	m := &mesh{n: testinfra.StartNATS(t), iss: authtest.NewIssuer(t), grants: map[string][]natsauth.Grant{}}
	v, err := auth.NewVerifier(auth.VerifierConfig{JWKSURL: m.iss.JWKSURL(), Issuer: m.iss.Issuer, Audience: m.iss.Audience})
	if err != nil {
		t.Fatal(err)
	}
	m.callout = m.n.ServeCallout(t, natsauth.Config{
		Verify: func(ctx context.Context, tok string) (natsauth.Identity, error) {
			c, err := v.Verify(ctx, tok)
			if err != nil {
				return natsauth.Identity{}, err
			}
			return natsauth.Identity{Subject: c.Subject, ClientID: c.ClientID, Roles: c.Roles, Expiry: c.Expiry}, nil
		},
		Passwords: map[string]string{natsauth.IdentityPrincipal: m.n.Keys.IdentityPassword},
		Grants: func(_ context.Context, p natsauth.Principal) ([]natsauth.Grant, error) {
			m.mu.Lock()
			defer m.mu.Unlock()
			key := p.Subject
			if p.Kind == natsauth.Service {
				key = p.Domain
			}
			return m.grants[key], nil
		},
		Domains: func(context.Context) []string { return []string{"quality", "scheduling", "identity"} },
		Refused: func(r natsauth.Refusal) { m.mu.Lock(); m.refused = append(m.refused, r); m.mu.Unlock() },
	})
	return m
}

func (m *mesh) grant(who string, g natsauth.Grant) {
	m.mu.Lock()
	m.grants[who] = append(m.grants[who], g)
	m.mu.Unlock()
}

// connect connects with token as subject (declaring streams), failing the test on refusal.
func (m *mesh) connect(t *testing.T, subject, token string, streams ...string) *nats.Conn {
	t.Helper()
	nc, err := m.dial(subject, token, streams...)
	if err != nil {
		t.Fatalf("connect as %s: %v", subject, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func (m *mesh) dial(subject, token string, streams ...string) (*nats.Conn, error) {
	c := natsauth.Credentials{Subject: subject, Token: func() (string, error) { return token, nil }, Streams: streams}
	errs := make(chan error, 8)
	opts := append(c.Options(), nats.Timeout(5*time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case errs <- err:
			default:
			}
		}))
	return nats.Connect(m.n.Addr, opts...)
}

func (m *mesh) service(t *testing.T, domain string, streams ...string) *nats.Conn {
	t.Helper()
	sub := "svc-" + domain
	return m.connect(t, sub, m.iss.Token(t, sub, []string{"service"}, nil), streams...)
}

func isPermission(err error) bool {
	return err != nil && (errors.Is(err, nats.ErrPermissionViolation) || strings.Contains(strings.ToLower(err.Error()), "permission"))
}

func TestRefusesWithoutValidToken(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	if nc, err := nats.Connect(m.n.Addr, nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Fatal("a connection without credentials was accepted")
	}
	expired := m.iss.Sign(t, map[string]any{"iss": m.iss.Issuer, "aud": m.iss.Audience, "sub": "svc-quality",
		"roles": []string{"service"}, "iat": time.Now().Add(-2 * time.Hour).Unix(), "exp": time.Now().Add(-time.Hour).Unix()})
	forger := authtest.NewIssuer(t) // a key set nobody trusts
	forged := forger.Token(t, "svc-quality", []string{"service"}, nil)
	for name, tok := range map[string]string{"expired": expired, "forged": forged, "garbage": "not-a-token",
		"wrong identity password": natsauth.IdentityPrincipal + ":guess"} {
		if nc, err := m.dial("svc-quality", tok); err == nil {
			nc.Close()
			t.Errorf("%s token: connection accepted", name)
		} else if !errors.Is(err, nats.ErrAuthorization) && !strings.Contains(err.Error(), "Authorization") {
			t.Errorf("%s token: %v, want an authorization error", name, err)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.refused) < 4 {
		t.Fatalf("refusals recorded: %d (%+v), want 4", len(m.refused), m.refused)
	}
	for _, r := range m.refused {
		if strings.Contains(r.Reason, forged) || strings.Contains(r.Reason, "guess") {
			t.Fatalf("a refusal carries the credential: %+v", r)
		}
	}
}

func TestServicePublishesOnlyOwnSubjects(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx := context.Background()
	quality := m.service(t, "quality", "QUALITY_MACHINE_HEALTH_V1", "SCHEDULING_JOBS_V1")
	sched := m.service(t, "scheduling", "SCHEDULING_JOBS_V1")
	qjs, _ := jetstream.New(quality, jetstream.WithDefaultTimeout(2*time.Second))
	sjs, _ := jetstream.New(sched, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := qjs.CreateStream(ctx, jetstream.StreamConfig{Name: "QUALITY_MACHINE_HEALTH_V1", Subjects: []string{"dp.quality.machine-health.v1.>"}}); err != nil {
		t.Fatalf("quality creates its own stream: %v", err)
	}
	if _, err := sjs.CreateStream(ctx, jetstream.StreamConfig{Name: "SCHEDULING_JOBS_V1", Subjects: []string{"dp.scheduling.jobs.v1.>"}}); err != nil {
		t.Fatalf("scheduling creates its own stream: %v", err)
	}
	if _, err := qjs.Publish(ctx, "dp.quality.machine-health.v1.m1", []byte("ok")); err != nil {
		t.Fatalf("quality publishes on its own subject: %v", err)
	}
	// Declaring another domain's stream grants nothing.
	if _, err := qjs.Publish(ctx, "dp.scheduling.jobs.v1.j1", []byte("forged")); err == nil {
		t.Fatal("quality published on scheduling's subject")
	}
	if err := qjs.DeleteStream(ctx, "SCHEDULING_JOBS_V1"); err == nil {
		t.Fatal("quality deleted scheduling's stream")
	}
	s, err := sjs.Stream(ctx, "SCHEDULING_JOBS_V1")
	if err != nil {
		t.Fatalf("scheduling's stream after quality's attempts: %v", err)
	}
	if err := purge(quality, "SCHEDULING_JOBS_V1"); err == nil {
		t.Fatal("quality purged scheduling's stream")
	}
	if info, _ := s.Info(ctx); info == nil || info.State.Msgs != 0 {
		t.Fatalf("scheduling's stream changed: %+v", info)
	}
	// No grant: no consumer on scheduling's product, durable or not.
	if _, err := qjs.CreateOrUpdateConsumer(ctx, "SCHEDULING_JOBS_V1", jetstream.ConsumerConfig{Durable: "quality--scheduling_jobs_v1"}); err == nil {
		t.Fatal("quality created a consumer on a product it holds no grant for")
	}
	if _, err := qjs.OrderedConsumer(ctx, "SCHEDULING_JOBS_V1", jetstream.OrderedConsumerConfig{}); err == nil {
		t.Fatal("quality created an ordered consumer on a product it holds no grant for")
	}
}

func TestGrantOpensTheProduct(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx := context.Background()
	quality := m.service(t, "quality", "QUALITY_MACHINE_HEALTH_V1")
	qjs, _ := jetstream.New(quality, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := qjs.CreateStream(ctx, jetstream.StreamConfig{Name: "QUALITY_MACHINE_HEALTH_V1", Subjects: []string{"dp.quality.machine-health.v1.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := qjs.Publish(ctx, "dp.quality.machine-health.v1.m1", []byte("critical")); err != nil {
		t.Fatal(err)
	}
	m.grant("scheduling", natsauth.Grant{Product: "quality.machine-health.v1"})
	sched := m.service(t, "scheduling")
	sjs, _ := jetstream.New(sched, jetstream.WithDefaultTimeout(2*time.Second))
	c, err := sjs.CreateOrUpdateConsumer(ctx, "QUALITY_MACHINE_HEALTH_V1", jetstream.ConsumerConfig{
		Durable: "scheduling--quality_machine-health_v1", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("scheduling's own durable on a granted product: %v", err)
	}
	msgs, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for msg := range msgs.Messages() {
		if err := msg.DoubleAck(ctx); err != nil {
			t.Fatalf("ack: %v", err)
		}
		got++
	}
	if got != 1 {
		t.Fatalf("read %d events, want 1 (%v)", got, msgs.Error())
	}
	// The durable of another namespace stays closed, even with the grant.
	if _, err := sjs.CreateOrUpdateConsumer(ctx, "QUALITY_MACHINE_HEALTH_V1", jetstream.ConsumerConfig{Durable: "identity--quality_machine-health_v1"}); err == nil {
		t.Fatal("scheduling created a durable in identity's namespace")
	}
	// Nor may scheduling publish a forged health event.
	if _, err := sjs.Publish(ctx, "dp.quality.machine-health.v1.m1", []byte("forged critical")); err == nil {
		t.Fatal("scheduling published on quality's subject")
	}
}

func TestAuditStreamIsImmutableEvenForAdmin(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx := context.Background()
	gov, _ := jetstream.New(m.n.ConnectAs(t, natsauth.GovernanceUser))
	if _, err := gov.CreateStream(ctx, jetstream.StreamConfig{Name: natsauth.AuditStream, Subjects: []string{"dp.governance.audit.v1.>"},
		DenyDelete: true, DenyPurge: true}); err != nil {
		t.Fatalf("governance creates the audit stream: %v", err)
	}
	if _, err := gov.Publish(ctx, "dp.governance.audit.v1.x", []byte("entry")); err != nil {
		t.Fatal(err)
	}
	admin := m.connect(t, "u-admin", m.iss.Token(t, "u-admin", []string{"admin"}, nil))
	test := m.n.Connect(t)
	for name, nc := range map[string]*nats.Conn{"admin": admin, "governance": gov.Conn(), "test user": test} {
		js, _ := jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))
		if err := js.DeleteStream(ctx, natsauth.AuditStream); err == nil {
			t.Errorf("%s deleted the audit stream", name)
		}
		if err := purge(nc, natsauth.AuditStream); err == nil {
			t.Errorf("%s purged the audit stream", name)
		}
		if _, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: natsauth.AuditStream, Subjects: []string{"dp.governance.audit.v1.>"}}); err == nil {
			t.Errorf("%s reconfigured the audit stream", name)
		}
	}
	if _, err := jetstream.New(admin); err != nil {
		t.Fatal(err)
	}
	ajs, _ := jetstream.New(admin, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := ajs.Publish(ctx, "dp.governance.audit.v1.x", []byte("forged entry")); err == nil {
		t.Error("admin wrote an audit entry")
	}
	s, err := gov.Stream(ctx, natsauth.AuditStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, _ := s.Info(ctx); info.State.Msgs != 1 {
		t.Fatalf("audit stream holds %d entries, want 1", info.State.Msgs)
	}
}

func TestKickCutsLiveAccess(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ctx := context.Background()
	quality := m.service(t, "quality", "QUALITY_MACHINE_HEALTH_V1")
	qjs, _ := jetstream.New(quality, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := qjs.CreateStream(ctx, jetstream.StreamConfig{Name: "QUALITY_MACHINE_HEALTH_V1", Subjects: []string{"dp.quality.machine-health.v1.>"}}); err != nil {
		t.Fatal(err)
	}
	m.grant("u-ana", natsauth.Grant{Product: "quality.machine-health.v1"})
	ana := m.connect(t, "u-ana", m.iss.Token(t, "u-ana", nil, nil))
	sub, err := ana.SubscribeSync("dp.quality.machine-health.v1.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := ana.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := qjs.Publish(ctx, "dp.quality.machine-health.v1.m1", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("granted reader: %v", err)
	}
	// Revoke: the grant goes, the connection is cut, and the reconnect has no permission.
	m.mu.Lock()
	delete(m.grants, "u-ana")
	m.mu.Unlock()
	if n, err := m.callout.Kick(m.n.ConnectAs(t, natsauth.SystemUser), "u-ana"); err != nil || n == 0 {
		t.Fatalf("kick: %d, %v", n, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := qjs.Publish(ctx, "dp.quality.machine-health.v1.m1", []byte("2")); err != nil {
			t.Fatal(err)
		}
		if _, err := sub.NextMsg(200 * time.Millisecond); errors.Is(err, nats.ErrTimeout) && ana.IsConnected() {
			return // reconnected without the subscription's permission: nothing arrives
		}
	}
	t.Fatalf("after revocation the reader still receives (connected %v)", ana.IsConnected())
}

// purge asks the JetStream API to purge stream, as `nats stream purge` does.
func purge(nc *nats.Conn, stream string) error {
	msg, err := nc.Request("$JS.API.STREAM.PURGE."+stream, nil, 2*time.Second)
	if err != nil {
		return err
	}
	var resp struct {
		Error *struct {
			Description string `json:"description"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return err
	}
	if resp.Error != nil {
		return errors.New(resp.Error.Description)
	}
	return nil
}

// TestPersonWithoutGrantsPublishesNothing: a person holding no grant may publish nowhere
// (NATS reads an empty allow list as "allow all").
func TestPersonWithoutGrantsPublishesNothing(t *testing.T) {
	t.Parallel()
	m := newMesh(t)
	ana := m.connect(t, "u-ana", m.iss.Token(t, "u-ana", []string{"analyst"}, nil))
	js, _ := jetstream.New(ana, jetstream.WithDefaultTimeout(2*time.Second))
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{Name: "ANA_STREAM", Subjects: []string{"ana.>"}}); err == nil {
		t.Fatal("a person without grants created a stream")
	}
	if _, err := ana.Request("$JS.API.STREAM.NAMES", nil, time.Second); err == nil {
		t.Fatal("a person without grants listed the streams")
	}
}
