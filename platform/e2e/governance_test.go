package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
	qualityv1 "meshwork.dev/contracts/gen/go/mesh/quality/v1"
	schedulingv1 "meshwork.dev/contracts/gen/go/mesh/scheduling/v1"
	"meshwork.dev/platform/natsauth"
)

// governance checks the data path under meshctl up: NATS refuses a connection without a
// token and the forged one, a user without grants can neither read a product nor forge a
// MachineHealth event, the audit stream cannot be deleted or purged even by the admin
// (natscli), and meshctl audit shows the refusals.
func (c clients) governance(t *testing.T, ctx context.Context) {
	t.Helper()
	if nc, err := nats.Connect(c.mesh.natsURL(), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("NATS admitted a connection without credentials")
	}
	if nc, err := nats.Connect(c.mesh.natsURL(), nats.Token("eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzdmMtcXVhbGl0eSJ9.c2ln"), nats.Timeout(5*time.Second)); err == nil {
		nc.Close()
		t.Error("NATS admitted a forged token")
	}
	natscli := filepath.Join(c.bin, "nats")
	tok := c.token(t, ctx)
	for _, args := range [][]string{{"stream", "rm", "GOVERNANCE_AUDIT_V1", "-f"}, {"stream", "purge", "GOVERNANCE_AUDIT_V1", "-f"}} {
		if out, err := output(ctx, natscli, append([]string{"--server", c.mesh.natsURL(), "--token", tok}, args...)...); err == nil {
			t.Errorf("nats %s as admin succeeded:\n%s", strings.Join(args, " "), out)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out := c.meshctl(t, ctx, "audit", "--action", "auth.refused", "-o", "json")
		if strings.Contains(out, "auth.refused") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshctl audit shows no refused connection:\n%s", out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// forgedHealth is the forged-health-event scenario: a client with a valid mesh token that is not
// quality's publishes a perfect MachineHealth CRITICAL event, CloudEvents headers and all, on
// quality's subject. The server refuses it (a permissions violation reported to the client) and
// scheduling books nothing for the machine, while the same path opens jobs for quality's own
// events (maintenance).
func (c clients) forgedHealth(t *testing.T, ctx context.Context) {
	t.Helper()
	const machine = "e2e-forged-press"
	subject, token := c.serviceToken(t, ctx, "e2e-forger")
	violations := make(chan string, 4)
	nc, err := nats.Connect(c.mesh.natsURL(), nats.Token(token), nats.Timeout(5*time.Second),
		nats.CustomInboxPrefix(natsauth.InboxPrefix(subject)), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case violations <- err.Error():
			default:
			}
		}))
	if err != nil {
		t.Fatalf("the forger's valid token was refused at connect: %v", err)
	}
	defer nc.Close()
	body, err := proto.Marshal(&qualityv1.MachineHealth{MachineId: machine, Status: qualityv1.HealthStatus_HEALTH_STATUS_CRITICAL,
		Reason: "vibration +45% and temperature +12% over baseline", EvidenceSensorIds: []string{machine + "-vib"},
		AssessedAt: timestamppb.Now()})
	if err != nil {
		t.Fatal(err)
	}
	msg := nats.NewMsg("dp.quality.machine-health.v1." + machine)
	msg.Data = body
	for k, v := range map[string]string{"ce-specversion": "1.0", "ce-id": "forged-1", "ce-source": "quality",
		"ce-type": "quality.machine-health.v1", "ce-time": time.Now().UTC().Format(time.RFC3339Nano), "ce-subject": machine,
		"content-type": "application/protobuf", nats.MsgIdHdr: "forged-1"} {
		msg.Header.Set(k, v)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if ack, err := js.PublishMsg(pctx, msg); err == nil {
		t.Fatalf("the forged MachineHealth event was stored: %+v", ack)
	}
	select {
	case v := <-violations:
		if !strings.Contains(strings.ToLower(v), "permissions violation for publish") || !strings.Contains(v, "dp.quality.machine-health.v1."+machine) {
			t.Errorf("the server's refusal: %q, want a permissions violation for the publish", v)
		}
	case <-time.After(10 * time.Second):
		t.Error("the server reported no permissions violation for the forged publish")
	}
	// Scheduling consumes machine health continuously; a forged event that got through would
	// open a job within a second or two. Give it well beyond that.
	sctx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token(t, ctx))
	scheduling := schedulingv1.NewSchedulingServiceClient(c.dial(t, 7005))
	time.Sleep(5 * time.Second)
	resp, err := scheduling.ListJobs(sctx, &schedulingv1.ListJobsRequest{PageSize: 500})
	if err != nil {
		t.Fatalf("ListJobs: %v", err)
	}
	for _, j := range resp.GetJobs() {
		if j.GetMachineId() == machine {
			t.Errorf("scheduling booked a job for the forged event: %v", j)
		}
	}
}

// serviceToken creates a service account with meshctl and returns its client id (its subject
// on NATS, which names its inbox prefix) and an access token for it from identity (grpcurl).
func (c clients) serviceToken(t *testing.T, ctx context.Context, name string) (subject, token string) {
	t.Helper()
	var bot struct {
		ClientID     string `json:"clientId"`
		ClientSecret string `json:"clientSecret"`
	}
	if out := c.meshctl(t, ctx, "service-accounts", "create", "--name", name, "-o", "json"); json.Unmarshal([]byte(out), &bot) != nil || bot.ClientSecret == "" {
		t.Fatalf("meshctl service-accounts create -o json:\n%s", out)
	}
	var issued struct {
		AccessToken string `json:"accessToken"`
	}
	req := fmt.Sprintf(`{"clientId":%q,"clientSecret":%q}`, bot.ClientID, bot.ClientSecret)
	grpcurl := filepath.Join(c.bin, "grpcurl")
	if out := run(t, ctx, grpcurl, "-plaintext", "-d", req, c.identityAddr(), "mesh.identity.v1.IdentityService/IssueServiceToken"); json.Unmarshal([]byte(out), &issued) != nil || issued.AccessToken == "" {
		t.Fatalf("IssueServiceToken:\n%s", out)
	}
	return bot.ClientID, issued.AccessToken
}

// piiViews: a consumer granted identity.users.v1 without PII cannot read its stream and reads
// the redacted view, with no email or name in it; granted PII, it reads the full records. The
// requests go through the AccessService with the consumer's own token (grpcurl), the approvals
// through meshctl as the admin, the reads through NATS with the consumer's token.
func (c clients) piiViews(t *testing.T, ctx context.Context) {
	t.Helper()
	subject, token := c.serviceToken(t, ctx, "e2e-analyst")
	grpcurl := filepath.Join(c.bin, "grpcurl")
	grant := func(pii bool) {
		t.Helper()
		var r struct {
			Request struct{ ID string } `json:"request"`
		}
		req := fmt.Sprintf(`{"product":"identity.users.v1","purpose":"e2e: count accounts","pii":%t}`, pii)
		out := run(t, ctx, grpcurl, "-plaintext", "-H", "authorization: Bearer "+token, "-d", req, c.mesh.catalogAddr(),
			"mesh.platform.v1.AccessService/RequestAccess")
		if json.Unmarshal([]byte(out), &r) != nil || r.Request.ID == "" {
			t.Fatalf("RequestAccess:\n%s", out)
		}
		c.meshctl(t, ctx, "access", "approve", r.Request.ID)
	}
	// read connects afresh (a grant takes effect on the next connection, or the server cuts the
	// old one) and returns the users' emails and names in stream.
	read := func(stream string) (emails, names []string, err error) {
		nc, err := nats.Connect(c.mesh.natsURL(), nats.Token(token), nats.Timeout(5*time.Second),
			nats.CustomInboxPrefix(natsauth.InboxPrefix(subject)))
		if err != nil {
			return nil, nil, err
		}
		defer nc.Close()
		js, err := jetstream.New(nc, jetstream.WithDefaultTimeout(3*time.Second))
		if err != nil {
			return nil, nil, err
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		cons, err := js.OrderedConsumer(fctx, stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			return nil, nil, err
		}
		batch, err := cons.Fetch(100, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return nil, nil, err
		}
		for m := range batch.Messages() {
			var u identityv1.UserChanged
			if err := proto.Unmarshal(m.Data(), &u); err != nil {
				return nil, nil, fmt.Errorf("decode %s: %w", m.Subject(), err)
			}
			emails, names = append(emails, u.GetEmail()), append(names, u.GetDisplayName())
		}
		return emails, names, batch.Error()
	}
	if _, _, err := read("IDENTITY_USERS_V1"); err == nil {
		t.Fatal("a principal without any grant read identity.users.v1")
	}
	grant(false)
	var emails, names []string
	eventually(t, ctx, "the redacted view of identity.users.v1 readable with a grant without PII", func() bool {
		var err error
		emails, names, err = read("IDENTITY_USERS_V1_REDACTED")
		return err == nil && len(emails) > 0
	})
	for i := range emails {
		if strings.Contains(emails[i], "@") || strings.Contains(names[i], "Engineer") || strings.Contains(names[i], "Admin") {
			t.Errorf("the redacted view shows email %q, name %q", emails[i], names[i])
		}
	}
	if _, _, err := read("IDENTITY_USERS_V1"); err == nil {
		t.Error("a grant without PII read the raw identity.users.v1")
	}
	grant(true)
	eventually(t, ctx, "the full identity.users.v1 readable with a PII grant", func() bool {
		var err error
		emails, _, err = read("IDENTITY_USERS_V1")
		return err == nil && slices.Contains(emails, "erin@example.com")
	})
}
