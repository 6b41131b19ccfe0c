package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/timestamppb"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// accessCmd dispatches `meshctl access <sub>`.
func (a *app) accessCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.stdout, `usage: meshctl access <command> [flags] [arguments]

commands:
  request <product> --purpose TEXT [--fields pii] [--for D|--until T]   ask to read a data product
  ls      [--product P] [--state S] [--namespace N]                   requests you may see, newest first
  approve <id> [--reason TEXT]                                        approve a request (the product's owner or admin)
  deny    <id> [--reason TEXT]                                        deny a request (the product's owner or admin)
  revoke  <id> [--reason TEXT]                                        end a grant now: live reads stop within seconds

NATS enforces the grants: an approved grant opens the product's stream to its holder, a
revoked or expired one cuts the holder's connections. Run 'meshctl access <command> -h' for its flags.
`)
		return errHelp
	}
	sub, rest := args[0], args[1:]
	ctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	switch sub {
	case "request":
		return a.accessRequest(ctx, rest)
	case "ls":
		return a.accessList(ctx, rest)
	case "approve", "deny":
		return a.accessDecide(ctx, sub, rest)
	case "revoke":
		return a.accessRevoke(ctx, rest)
	}
	return usagef("unknown command \"access %s\" (run 'meshctl access help')", sub)
}

// accessClient connects to the catalog's AccessService with the session's token.
func (a *app) accessClient(ctx context.Context) (platformv1.AccessServiceClient, func(), error) {
	tok, err := a.bearer(ctx)
	if err != nil {
		return nil, nil, err
	}
	conn, err := grpc.NewClient(a.g.catalog, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(staticBearer(tok)))
	if err != nil {
		return nil, nil, usagef("--catalog %q: %v", a.g.catalog, err)
	}
	return platformv1.NewAccessServiceClient(conn), func() { _ = conn.Close() }, nil
}

func (a *app) accessRequest(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "access request", args: "<product> --purpose TEXT [--fields pii] [--for D|--until T] [--namespace N]",
		summary: "Asks the product's owner for read access. Without --fields pii the grant reads the product's\n" +
			"redacted view (PII fields replaced by keyed hashes that still join)."})
	purpose := fs.String("purpose", "", "what the data is for (required)")
	fields := fs.String("fields", "", "`pii` to ask for the fields marked PII too")
	until := fs.String("until", "", "expiry: a `date` (2027-01-01) or an RFC 3339 time (default: 90 days)")
	forDur := fs.String("for", "", "expiry as a `duration` from now: 720h, 30d")
	ns := fs.String("namespace", "", "ask on behalf of this domain or user `id` (admin)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("access request: want one product id, got %d arguments", len(pos))
	}
	if *fields != "" && *fields != "pii" {
		return usagef("access request: --fields %q: want pii", *fields)
	}
	req := &platformv1.RequestAccessRequest{Product: pos[0], Purpose: *purpose, Pii: *fields == "pii", Namespace: *ns}
	if *until != "" || *forDur != "" {
		t, err := expiry(*until, *forDur, a.now())
		if err != nil {
			return usagef("access request: %v", err)
		}
		req.ExpiresAt = timestamppb.New(t)
	}
	client, done, err := a.accessClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.RequestAccess(ctx, req)
	if err != nil {
		return a.rpcErr("access request", err)
	}
	return a.printAccess(resp, resp.GetRequest())
}

func (a *app) accessList(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "access ls", args: "[--product P] [--state S] [--namespace N]",
		summary: "Lists the requests you may see: your own, and as an owner (scope <domain>:owner) those for\n" +
			"your domain's products; an admin sees all."})
	product := fs.String("product", "", "only requests for this product")
	state := fs.String("state", "", "only requests in this `state`: pending, approved, denied, revoked, expired")
	ns := fs.String("namespace", "", "only requests of this domain or user")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	req := &platformv1.ListAccessRequestsRequest{Product: *product, Namespace: *ns, PageSize: pageSize}
	if *state != "" {
		v, ok := platformv1.AccessState_value["ACCESS_STATE_"+strings.ToUpper(*state)]
		if !ok {
			return usagef("access ls: --state %q: want pending, approved, denied, revoked or expired", *state)
		}
		req.State = platformv1.AccessState(v)
	}
	client, done, err := a.accessClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	var rs []*platformv1.AccessRequest
	err = pages(func(token string) (string, error) {
		req.PageToken = token
		resp, err := client.ListAccessRequests(ctx, req)
		rs = append(rs, resp.GetRequests()...)
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		return a.rpcErr("access ls", err)
	}
	if a.json() {
		return printProtoList(a, rs)
	}
	if len(rs) == 0 {
		fmt.Fprintln(a.stdout, "no access requests")
		return nil
	}
	w := newTable(a.stdout)
	row(w, "ID", "PRODUCT", "NAMESPACE", "FIELDS", "STATE", "EXPIRES", "PURPOSE")
	for _, r := range rs {
		row(w, r.GetId(), r.GetProduct(), r.GetNamespace(), fieldsOf(r), stateName(r.GetState()),
			r.GetExpiresAt().AsTime().UTC().Format(time.RFC3339), r.GetPurpose())
	}
	return w.Flush()
}

func (a *app) accessDecide(ctx context.Context, verb string, args []string) error {
	fs := a.newFlags(cmdSpec{name: "access " + verb, args: "<id> [--reason TEXT]",
		summary: "Decides a pending request; only the product's owner (scope <domain>:owner) or an admin may."})
	reason := fs.String("reason", "", "a note for the requester and the audit trail")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("access %s: want one request id, got %d arguments", verb, len(pos))
	}
	client, done, err := a.accessClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.DecideAccessRequest(ctx, &platformv1.DecideAccessRequestRequest{Id: pos[0], Approve: verb == "approve", Reason: *reason})
	if err != nil {
		return a.rpcErr("access "+verb+" "+pos[0], err)
	}
	return a.printAccess(resp, resp.GetRequest())
}

func (a *app) accessRevoke(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "access revoke", args: "<id> [--reason TEXT]",
		summary: "Ends a grant now: the holder's NATS connections are cut and come back without it."})
	reason := fs.String("reason", "", "a note for the holder and the audit trail")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("access revoke: want one grant id, got %d arguments", len(pos))
	}
	client, done, err := a.accessClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.RevokeGrant(ctx, &platformv1.RevokeGrantRequest{Id: pos[0], Reason: *reason})
	if err != nil {
		return a.rpcErr("access revoke "+pos[0], err)
	}
	return a.printAccess(resp, resp.GetRequest())
}

func (a *app) printAccess(_ any, r *platformv1.AccessRequest) error {
	if a.json() {
		return a.printProto(r)
	}
	fmt.Fprintf(a.stdout, "%s %s for %s: %s (%s), until %s\n", r.GetId(), r.GetProduct(), r.GetNamespace(), stateName(r.GetState()),
		fieldsOf(r), r.GetExpiresAt().AsTime().UTC().Format(time.RFC3339))
	return nil
}

func stateName(s platformv1.AccessState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ACCESS_STATE_"))
}

func fieldsOf(r *platformv1.AccessRequest) string {
	if r.GetPii() {
		return "all fields"
	}
	return "redacted view"
}

// auditCmd is `meshctl audit`.
func (a *app) auditCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "audit", args: "[--principal P] [--product P] [--action A] [--since T] [--until T] [-n N]",
		summary: "Reads the immutable audit trail governance.audit.v1 (admin): access decisions, revocations,\n" +
			"stream management and refused NATS connections, oldest first."})
	principal := fs.String("principal", "", "only entries of this subject")
	product := fs.String("product", "", "only entries about this product")
	action := fs.String("action", "", "only this action, or a prefix ending in '.' (access., auth.)")
	since := fs.String("since", "", "only entries since this `age` (10m, 2h) or RFC 3339 time")
	until := fs.String("until", "", "only entries until this RFC 3339 `time`")
	n := fs.Int("n", 100, "at most `N` entries (up to 1000)")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	req := &platformv1.ListAuditRequest{Principal: *principal, Product: *product, Action: *action, Limit: int32(*n)}
	if *n < 1 || *n > 1000 {
		return usagef("audit: -n %d: want 1 to 1000", *n)
	}
	if *since != "" {
		t, err := parseSince(*since, a.now())
		if err != nil {
			return usagef("audit: --since: %v", err)
		}
		req.Since = timestamppb.New(t)
	}
	if *until != "" {
		t, err := time.Parse(time.RFC3339, *until)
		if err != nil {
			return usagef("audit: --until %q: want an RFC 3339 time", *until)
		}
		req.Until = timestamppb.New(t)
	}
	ctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	client, done, err := a.accessClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.ListAudit(ctx, req)
	if err != nil {
		return a.rpcErr("audit", err)
	}
	if a.json() {
		return printProtoList(a, resp.GetEntries())
	}
	if len(resp.GetEntries()) == 0 {
		fmt.Fprintln(a.stdout, "no audit entries")
		return nil
	}
	w := newTable(a.stdout)
	row(w, "TIME", "PRINCIPAL", "ACTION", "PRODUCT", "DETAIL")
	for _, e := range resp.GetEntries() {
		row(w, e.GetTime().AsTime().UTC().Format(time.RFC3339), e.GetPrincipal(), e.GetAction(), e.GetProduct(), e.GetDetail())
	}
	return w.Flush()
}
