package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/governance/schema"
	"meshwork.dev/platform/auth"
	"meshwork.dev/platform/catalog/catalogtest"
	"meshwork.dev/platform/natsauth"
)

// accessClient is the AccessService as the holder of token.
func (c *catalogUnderTest) accessClient(t *testing.T, token string) platformv1.AccessServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.BearerToken(func(context.Context) (string, error) { return token, nil })))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return platformv1.NewAccessServiceClient(conn)
}

// natsAs connects to NATS through the catalog's callout with token as subject.
func (c *catalogUnderTest) natsAs(t *testing.T, subject, token string, streams ...string) (*nats.Conn, error) {
	t.Helper()
	cred := natsauth.Credentials{Subject: subject, Token: func() (string, error) { return token, nil }, Streams: streams}
	nc, err := nats.Connect(c.nats.Addr, append(cred.Options(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.Timeout(5*time.Second), nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))...)
	if err == nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// TestAccessFlow walks request → approve → read → revoke → cut, through gRPC and a real
// nats-server whose callout the catalog answers, and checks the audit trail.
func TestAccessFlow(t *testing.T) {
	c := start(t)
	ctx := c.ctx
	product := catalogtest.Descriptor("quality.summaries.v1", catalogtest.BaseFields...)
	c.register(t, product)

	// quality provisions and publishes through its own, authenticated connection.
	qnc, err := c.natsAs(t, "svc-quality", c.iss.Token(t, "svc-quality", []string{"service"}, nil), "QUALITY_SUMMARIES_V1")
	if err != nil {
		t.Fatalf("quality connects: %v", err)
	}
	qjs, _ := jetstream.New(qnc)
	if _, err := qjs.CreateStream(ctx, jetstream.StreamConfig{Name: "QUALITY_SUMMARIES_V1", Subjects: []string{"dp.quality.summaries.v1.>"}}); err != nil {
		t.Fatalf("quality provisions its stream: %v", err)
	}

	anaTok := c.iss.Token(t, "u-ana", []string{"analyst"}, nil)
	ana := c.accessClient(t, anaTok)
	owner := c.accessClient(t, c.iss.Token(t, "u-olga", []string{"engineer"}, []string{"quality:owner"}))
	labOwner := c.accessClient(t, c.iss.Token(t, "u-lars", []string{"engineer"}, []string{"lab:owner"}))
	admin := c.accessClient(t, c.iss.Token(t, "u-admin", []string{"admin"}, nil))

	// Bad requests name the field.
	for name, tt := range map[string]struct {
		req   *platformv1.RequestAccessRequest
		field string
	}{
		"unknown product": {&platformv1.RequestAccessRequest{Product: "nobody.nothing.v1", Purpose: "x"}, "product"},
		"empty purpose":   {&platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "  "}, "purpose"},
		"expiry past":     {&platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "x", ExpiresAt: timestamppb.New(time.Now().Add(-time.Hour))}, "expires_at"},
		"on behalf":       {&platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "x", Namespace: "scheduling"}, "namespace"},
	} {
		_, err := ana.RequestAccess(ctx, tt.req)
		if got, _ := code(err); got != codes.InvalidArgument || badRequest(err)[tt.field] == "" {
			t.Errorf("%s: %v, want InvalidArgument on %s", name, err, tt.field)
		}
	}

	// Without a grant ana's connection reads nothing.
	anc, err := c.natsAs(t, "u-ana", anaTok)
	if err != nil {
		t.Fatalf("ana connects: %v", err)
	}
	ajs, _ := jetstream.New(anc, jetstream.WithDefaultTimeout(2*time.Second))
	denied, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := ajs.OrderedConsumer(denied, "QUALITY_SUMMARIES_V1", jetstream.OrderedConsumerConfig{}); err == nil {
		t.Fatal("ana read the product without a grant")
	}

	req, err := ana.RequestAccess(ctx, &platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "weekly quality report"})
	if err != nil {
		t.Fatal(err)
	}
	id := req.GetRequest().GetId()
	if req.GetRequest().GetState() != platformv1.AccessState_ACCESS_STATE_PENDING || req.GetRequest().GetNamespace() != "u-ana" {
		t.Fatalf("request: %v", req.GetRequest())
	}
	for name, cl := range map[string]platformv1.AccessServiceClient{"the requester": ana, "another domain's owner": labOwner} {
		if _, err := cl.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: id, Approve: true}); func() codes.Code { c, _ := code(err); return c }() != codes.PermissionDenied {
			t.Errorf("%s approves: %v, want PermissionDenied", name, err)
		}
	}
	// The owner sees the request in its queue; the other domain's owner does not.
	if l, err := owner.ListAccessRequests(ctx, &platformv1.ListAccessRequestsRequest{State: platformv1.AccessState_ACCESS_STATE_PENDING}); err != nil || len(l.GetRequests()) != 1 {
		t.Fatalf("owner's queue: %v %v", l, err)
	}
	if l, err := labOwner.ListAccessRequests(ctx, &platformv1.ListAccessRequestsRequest{}); err != nil || len(l.GetRequests()) != 0 {
		t.Fatalf("another owner's view: %v %v", l, err)
	}

	// ana subscribes live now (the server refuses it while she has no grant) and keeps the
	// subscription: it starts delivering once the approval reconnects her with the grant.
	sub, err := anc.SubscribeSync("dp.quality.summaries.v1.>")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: id, Approve: true, Reason: "ok"}); err != nil {
		t.Fatalf("owner approves: %v", err)
	}
	approved := time.Now()
	received := func(within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if _, err := qjs.Publish(ctx, "dp.quality.summaries.v1.m1", []byte("x")); err != nil {
				t.Fatal(err)
			}
			if _, err := sub.NextMsg(200 * time.Millisecond); err == nil {
				return true
			}
		}
		return false
	}
	if !received(15 * time.Second) {
		t.Fatal("after approval ana's subscription received nothing")
	}
	t.Logf("approval to first event: %s", time.Since(approved).Round(time.Millisecond))
	if _, err := ajs.OrderedConsumer(ctx, "QUALITY_SUMMARIES_V1", jetstream.OrderedConsumerConfig{}); err != nil {
		t.Fatalf("ana's ordered consumer after approval: %v", err)
	}

	// Revocation cuts the live subscription within 10 s.
	if _, err := owner.RevokeGrant(ctx, &platformv1.RevokeGrantRequest{Id: id, Reason: "report done"}); err != nil {
		t.Fatal(err)
	}
	revoked := time.Now()
	stopped := false
	for time.Since(revoked) < 10*time.Second {
		for {
			if _, err := sub.NextMsg(10 * time.Millisecond); err != nil {
				break // drain what was in flight
			}
		}
		if !received(time.Second) {
			stopped = true
			break
		}
	}
	if !stopped {
		t.Fatal("10 s after revocation ana's subscription still receives")
	}
	t.Logf("revocation to silence: %s", time.Since(revoked).Round(time.Millisecond))

	// A forged token is refused at connect and audited.
	if _, err := c.natsAs(t, "svc-quality", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJzdmMtcXVhbGl0eSJ9.x"); err == nil {
		t.Fatal("a forged token connected")
	}
	wantActions := []string{"access.requested", "access.approved", "access.revoked", "auth.refused", "stream.created", "access.decide-refused"}
	poll(t, "audit entries", func() bool {
		resp, err := admin.ListAudit(ctx, &platformv1.ListAuditRequest{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range resp.GetEntries() {
			seen[e.GetAction()] = true
			if strings.Contains(e.GetDetail(), anaTok) {
				t.Fatalf("an audit entry carries a token: %v", e)
			}
		}
		for _, a := range wantActions {
			if !seen[a] {
				return false
			}
		}
		return true
	})
	if resp, err := admin.ListAudit(ctx, &platformv1.ListAuditRequest{Action: "access.", Product: "quality.summaries.v1"}); err != nil || len(resp.GetEntries()) < 3 {
		t.Fatalf("filtered audit: %v %v", resp, err)
	} else {
		for _, e := range resp.GetEntries() {
			if !strings.HasPrefix(e.GetAction(), "access.") || e.GetProduct() != "quality.summaries.v1" {
				t.Fatalf("filter let through %v", e)
			}
		}
	}
	if _, err := ana.ListAudit(ctx, &platformv1.ListAuditRequest{}); func() codes.Code { c, _ := code(err); return c }() != codes.PermissionDenied {
		t.Errorf("a non-admin reads the audit trail: %v", err)
	}
	// The seeded grant exists, approved by the bootstrap.
	l, err := admin.ListAccessRequests(ctx, &platformv1.ListAccessRequestsRequest{Namespace: "scheduling"})
	if err != nil || len(l.GetRequests()) != 1 || l.GetRequests()[0].GetDecidedBy() != "bootstrap" {
		t.Fatalf("seeded grant: %v %v", l, err)
	}
}

// TestGrantExpiry: a grant that expires stops the holder's live subscription, as a revocation
// does.
func TestGrantExpiry(t *testing.T) {
	c := start(t)
	ctx := c.ctx
	c.register(t, catalogtest.Descriptor("quality.summaries.v1", catalogtest.BaseFields...))
	qnc, err := c.natsAs(t, "svc-quality", c.iss.Token(t, "svc-quality", []string{"service"}, nil), "QUALITY_SUMMARIES_V1")
	if err != nil {
		t.Fatal(err)
	}
	qjs, _ := jetstream.New(qnc)
	if _, err := qjs.CreateStream(ctx, jetstream.StreamConfig{Name: "QUALITY_SUMMARIES_V1", Subjects: []string{"dp.quality.summaries.v1.>"}}); err != nil {
		t.Fatal(err)
	}
	anaTok := c.iss.Token(t, "u-ana", []string{"analyst"}, nil)
	ana := c.accessClient(t, anaTok)
	admin := c.accessClient(t, c.iss.Token(t, "u-admin", []string{"admin"}, nil))
	req, err := ana.RequestAccess(ctx, &platformv1.RequestAccessRequest{Product: "quality.summaries.v1", Purpose: "a quick look",
		ExpiresAt: timestamppb.New(time.Now().Add(6 * time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: req.GetRequest().GetId(), Approve: true}); err != nil {
		t.Fatal(err)
	}
	anc, err := c.natsAs(t, "u-ana", anaTok)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := anc.SubscribeSync("dp.quality.summaries.v1.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := anc.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := qjs.Publish(ctx, "dp.quality.summaries.v1.m1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.NextMsg(5 * time.Second); err != nil {
		t.Fatalf("before expiry: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := qjs.Publish(ctx, "dp.quality.summaries.v1.m1", []byte("x")); err != nil {
			t.Fatal(err)
		}
		_, err := sub.NextMsg(500 * time.Millisecond)
		if errors.Is(err, nats.ErrTimeout) && anc.IsConnected() {
			l, lerr := admin.ListAccessRequests(ctx, &platformv1.ListAccessRequestsRequest{Namespace: "u-ana"})
			if lerr != nil || l.GetRequests()[0].GetState() != platformv1.AccessState_ACCESS_STATE_EXPIRED {
				t.Fatalf("silent, but the grant is %v (%v)", l, lerr)
			}
			return
		}
	}
	t.Fatal("the subscription still receives 30 s after the grant was approved for 6 s")
}

// TestRedactedView: a grant without PII reads the product's redacted view, where PII fields
// are keyed hashes (equal values hash alike, so they still join) and the raw stream stays
// closed; a grant with PII reads the raw stream.
func TestRedactedView(t *testing.T) {
	c := start(t)
	ctx := c.ctx
	d := catalogtest.Descriptor("crm.contacts.v1",
		catalogtest.Field{Name: "contact_id", Number: 1, Type: catalogtest.String},
		catalogtest.Field{Name: "email", Number: 2, Type: catalogtest.String, PII: true})
	c.register(t, d)
	p, err := schema.Load(d.GetSchema())
	if err != nil {
		t.Fatal(err)
	}
	crm, err := c.natsAs(t, "svc-crm", c.iss.Token(t, "svc-crm", []string{"service"}, nil), "CRM_CONTACTS_V1")
	if err != nil {
		t.Fatal(err)
	}
	cjs, _ := jetstream.New(crm)
	if _, err := cjs.CreateStream(ctx, jetstream.StreamConfig{Name: "CRM_CONTACTS_V1", Subjects: []string{"dp.crm.contacts.v1.>"}}); err != nil {
		t.Fatal(err)
	}
	publish := func(id, email string) {
		m := dynamicpb.NewMessage(p.Message)
		m.Set(p.Message.Fields().ByName("contact_id"), protoreflect.ValueOfString(id))
		m.Set(p.Message.Fields().ByName("email"), protoreflect.ValueOfString(email))
		b, _ := proto.Marshal(m)
		if _, err := cjs.Publish(ctx, "dp.crm.contacts.v1."+id, b); err != nil {
			t.Fatal(err)
		}
	}
	publish("c1", "ana@example.com")
	publish("c2", "ana@example.com")

	admin := c.accessClient(t, c.iss.Token(t, "u-admin", []string{"admin"}, nil))
	read := func(user string, pii bool) (*nats.Conn, jetstream.JetStream) {
		tok := c.iss.Token(t, user, []string{"analyst"}, nil)
		r, err := c.accessClient(t, tok).RequestAccess(ctx, &platformv1.RequestAccessRequest{Product: "crm.contacts.v1", Purpose: "join contacts", Pii: pii})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: r.GetRequest().GetId(), Approve: true}); err != nil {
			t.Fatal(err)
		}
		nc, err := c.natsAs(t, user, tok)
		if err != nil {
			t.Fatal(err)
		}
		js, _ := jetstream.New(nc, jetstream.WithDefaultTimeout(2*time.Second))
		return nc, js
	}
	fetch := func(js jetstream.JetStream, stream string) ([]string, error) {
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		cons, err := js.OrderedConsumer(fctx, stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			return nil, err
		}
		msgs, err := cons.Fetch(2, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, err
		}
		var emails []string
		for m := range msgs.Messages() {
			dm := dynamicpb.NewMessage(p.Message)
			if err := proto.Unmarshal(m.Data(), dm); err != nil {
				return nil, err
			}
			emails = append(emails, dm.Get(p.Message.Fields().ByName("email")).String())
		}
		return emails, nil
	}

	_, viewer := read("u-vera", false)
	if _, err := fetch(viewer, "CRM_CONTACTS_V1"); err == nil {
		t.Fatal("a grant without PII read the raw stream")
	}
	var emails []string
	poll(t, "the redacted view", func() bool {
		emails, err = fetch(viewer, "CRM_CONTACTS_V1_REDACTED")
		return err == nil && len(emails) == 2
	})
	if emails[0] == "ana@example.com" || !strings.HasPrefix(emails[0], "pii:") || emails[0] != emails[1] {
		t.Fatalf("view emails %q: want equal keyed hashes", emails)
	}
	_, full := read("u-paula", true)
	if got, err := fetch(full, "CRM_CONTACTS_V1"); err != nil || len(got) != 2 || got[0] != "ana@example.com" {
		t.Fatalf("a PII grant reads %q (%v), want the raw emails", got, err)
	}
}
