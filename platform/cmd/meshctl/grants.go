package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
)

// grantsCmd dispatches `meshctl grants <sub>`.
func (a *app) grantsCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.stdout, `usage: meshctl grants <command> [flags] [arguments]

commands:
  ls      [--subject ID] [--all]                                       grants, newest first
  add     --subject ID --app A --scope S [--scope S…] --until T|--for D   grant scopes until a time (admin)
  revoke  <id>                                                         revoke a grant from the next token on (admin)

Admins see anyone's grants; others only their own. Run 'meshctl grants <command> -h' for its flags.
`)
		return errHelp
	}
	sub, rest := args[0], args[1:]
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	switch sub {
	case "ls":
		return a.grantsList(ctx, rest)
	case "add":
		return a.grantsAdd(ctx, rest)
	case "revoke":
		return a.grantsRevoke(ctx, rest)
	}
	return usagef("unknown command \"grants %s\" (run 'meshctl grants help')", sub)
}

// grantsList is `meshctl grants ls`.
func (a *app) grantsList(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "grants ls", args: "[--subject ID] [--all]",
		summary: "Lists active grants, newest first; --all includes expired and revoked ones."})
	subject := fs.String("subject", "", "only the grants of this user or service account `id` (admin)")
	all := fs.Bool("all", false, "include expired and revoked grants")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	req := &identityv1.ListGrantsRequest{SubjectId: *subject, IncludeInactive: *all, PageSize: pageSize}
	var grants []*identityv1.Grant
	err = pages(func(token string) (string, error) {
		req.PageToken = token
		resp, err := client.ListGrants(ctx, req)
		grants = append(grants, resp.GetGrants()...)
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		return a.identityErr("grants ls", err)
	}
	if a.json() {
		return printProtoList(a, grants)
	}
	if len(grants) == 0 {
		fmt.Fprintln(a.stdout, "no grants")
		return nil
	}
	w := newTable(a.stdout)
	row(w, "ID", "SUBJECT", "APPLICATION", "SCOPES", "EXPIRES", "STATUS")
	for _, g := range grants {
		row(w, g.GetId(), g.GetSubjectId(), g.GetApplication(), strings.Join(g.GetScopes(), ","),
			g.GetExpiresAt().AsTime().UTC().Format(time.RFC3339), a.grantStatus(g))
	}
	return w.Flush()
}

// grantsAdd is `meshctl grants add`.
func (a *app) grantsAdd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "grants add", args: "--subject ID --app A --scope S [--scope S…] --until 2027-01-01|--for 720h",
		summary: "Grants a user or service account scopes for an application or domain until a time.\n" +
			"Tokens issued from then on carry the scopes."})
	subject := fs.String("subject", "", "the user or service account `id`")
	app := fs.String("app", "", "the `application` or domain, e.g. quality")
	var scopes listFlag
	fs.Var(&scopes, "scope", "a `scope`, <application>:<action> (repeat, or separate with commas)")
	until := fs.String("until", "", "expiry: a `date` (2027-01-01, midnight UTC) or an RFC 3339 time")
	forDur := fs.String("for", "", "expiry as a `duration` from now: 720h, 30d")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *subject == "" || *app == "" || len(scopes) == 0 {
		return usagef("grants add: --subject, --app and --scope are required")
	}
	expires, err := expiry(*until, *forDur, a.now())
	if err != nil {
		return usagef("grants add: %v", err)
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.GrantScopes(ctx, &identityv1.GrantScopesRequest{SubjectId: *subject, Application: *app,
		Scopes: scopes, ExpiresAt: timestamppb.New(expires)})
	if err != nil {
		return a.identityErr("grants add", err)
	}
	return a.printGrant(resp, resp.GetGrant())
}

// grantsRevoke is `meshctl grants revoke`.
func (a *app) grantsRevoke(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "grants revoke", args: "<id>", summary: "Revokes a grant; tokens issued from then on lack its scopes."})
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("grants revoke: want one grant id, got %d arguments", len(pos))
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.RevokeGrant(ctx, &identityv1.RevokeGrantRequest{Id: pos[0]})
	if err != nil {
		return a.identityErr("grants revoke "+pos[0], err)
	}
	return a.printGrant(resp, resp.GetGrant())
}

// expiry reads --until or --for; exactly one must be given, and it must lie ahead.
func expiry(until, forDur string, now time.Time) (time.Time, error) {
	var t time.Time
	switch {
	case (until == "") == (forDur == ""):
		return t, fmt.Errorf("give one of --until and --for")
	case until != "":
		var err error
		if t, err = time.Parse(time.DateOnly, until); err != nil {
			if t, err = time.Parse(time.RFC3339, until); err != nil {
				return t, fmt.Errorf("--until %q: want a date like 2027-01-01 or an RFC 3339 time", until)
			}
		}
	default:
		d, err := parseAge(forDur)
		if err != nil || d <= 0 {
			return t, fmt.Errorf("--for %q: want a positive duration like 720h or 30d", forDur)
		}
		t = now.Add(d)
	}
	if !t.After(now) {
		return t, fmt.Errorf("the expiry %s has passed", t.UTC().Format(time.RFC3339))
	}
	return t, nil
}

// printGrant prints a response holding one grant: protojson with -o json, otherwise its fields.
func (a *app) printGrant(resp proto.Message, g *identityv1.Grant) error {
	if a.json() {
		return a.printProto(resp)
	}
	w := newTable(a.stdout)
	for _, l := range [][2]string{{"id", g.GetId()}, {"subject", g.GetSubjectId()}, {"application", g.GetApplication()},
		{"scopes", listOrDash(g.GetScopes())}, {"expires", fmtTime(g.GetExpiresAt(), a.now())}, {"status", a.grantStatus(g)},
		{"granted by", g.GetGrantedBy()}, {"created", fmtTime(g.GetCreatedAt(), a.now())}} {
		row(w, l[0], l[1])
	}
	return w.Flush()
}

// grantStatus is "revoked", "expired" or "active".
func (a *app) grantStatus(g *identityv1.Grant) string {
	switch {
	case g.GetRevokedAt() != nil:
		return "revoked"
	case !g.GetExpiresAt().AsTime().After(a.now()):
		return "expired"
	}
	return "active"
}

// serviceAccountsCmd is `meshctl service-accounts create --name N`.
func (a *app) serviceAccountsCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "create" {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			fmt.Fprint(a.stdout, "usage: meshctl service-accounts create --name N\n\nCreates a service account (admin) and prints its client secret, once.\n")
			return errHelp
		}
		return usagef("unknown command \"service-accounts %s\" (run 'meshctl service-accounts help')", args[0])
	}
	fs := a.newFlags(cmdSpec{name: "service-accounts create", args: "--name N",
		summary: "Creates a service account (admin) and prints its client id and secret; the secret is shown\n" +
			"only once. Services use them as SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET."})
	name := fs.String("name", "", "the account's `name`, e.g. the service's")
	if err := a.noArgs(fs, args[1:]); err != nil {
		return err
	}
	if *name == "" {
		return usagef("service-accounts create: --name is required")
	}
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.CreateServiceAccount(ctx, &identityv1.CreateServiceAccountRequest{Name: *name, IdempotencyKey: uuid.NewString()})
	if err != nil {
		return a.identityErr("service-accounts create", err)
	}
	if a.json() {
		return a.printProto(resp)
	}
	w := newTable(a.stdout)
	row(w, "name", *name)
	row(w, "id", resp.GetAccount().GetId())
	row(w, "client id", resp.GetClientId())
	row(w, "client secret", resp.GetClientSecret()+"  (shown once)")
	return w.Flush()
}
