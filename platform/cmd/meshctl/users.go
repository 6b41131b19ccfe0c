package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	identityv1 "meshwork.dev/contracts/gen/go/mesh/identity/v1"
)

// usersCmd dispatches `meshctl users <sub>`.
func (a *app) usersCmd(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(a.stdout, `usage: meshctl users <command> [flags] [arguments]

commands:
  ls          [--role R] [--all]                       list users (admin, dispatcher)
  get         <id>                                     one user (admin, dispatcher)
  create      --email E --name N --role R [--role R…]  a new user and their one-time password (admin)
  roles       <id> --role R [--role R…]                replace a user's roles (admin)
  deactivate  <id>                                     stop a user from signing in (admin)
  me          the signed-in user and their scopes

Roles: admin, dispatcher, engineer, analyst, service. Every command sends the token of the
saved session (meshctl login) or --token. Run 'meshctl users <command> -h' for its flags.
`)
		return errHelp
	}
	sub, rest := args[0], args[1:]
	ctx, cancel := context.WithTimeout(ctx, identityTimeout)
	defer cancel()
	switch sub {
	case "ls":
		return a.usersList(ctx, rest)
	case "get", "deactivate", "me":
		return a.userByID(ctx, sub, rest)
	case "create":
		return a.usersCreate(ctx, rest)
	case "roles":
		return a.usersRoles(ctx, rest)
	}
	return usagef("unknown command \"users %s\" (run 'meshctl users help')", sub)
}

// usersList is `meshctl users ls`.
func (a *app) usersList(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "users ls", args: "[--role R] [--all]",
		summary: "Lists users ordered by email, paging through identity; --all includes deactivated ones."})
	role := fs.String("role", "", "only users with this `role`")
	all := fs.Bool("all", false, "include deactivated users")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	req := &identityv1.ListUsersRequest{IncludeInactive: *all, PageSize: pageSize}
	if *role != "" {
		r, err := parseRole(*role)
		if err != nil {
			return usagef("users ls: --role: %v", err)
		}
		req.Role = r
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	var users []*identityv1.User
	err = pages(func(token string) (string, error) {
		req.PageToken = token
		resp, err := client.ListUsers(ctx, req)
		users = append(users, resp.GetUsers()...)
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		return a.identityErr("users ls", err)
	}
	if a.json() {
		return printProtoList(a, users)
	}
	if len(users) == 0 {
		fmt.Fprintln(a.stdout, "no users match")
		return nil
	}
	w := newTable(a.stdout)
	row(w, "ID", "EMAIL", "NAME", "ROLES", "ACTIVE", "TOTP")
	for _, u := range users {
		row(w, u.GetId(), u.GetEmail(), truncate(u.GetDisplayName(), 30), listOrDash(roleWords(u.GetRoles())), yesNo(u.GetActive()), yesNo(u.GetTotpEnrolled()))
	}
	return w.Flush()
}

// userByID is `meshctl users get <id>`, `users deactivate <id>` and `users me`.
func (a *app) userByID(ctx context.Context, sub string, args []string) error {
	spec := cmdSpec{name: "users " + sub, args: "<id>"}
	switch sub {
	case "get":
		spec.summary = "Shows a user."
	case "deactivate":
		spec.summary = "Deactivates a user: they can no longer sign in, and their sessions are revoked."
	case "me":
		spec.args, spec.summary = "", "Shows the signed-in user and the scopes their grants give."
	}
	fs := a.newFlags(spec)
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub == "me" && len(pos) > 0:
		return usagef("users me: unexpected arguments %q", pos)
	case sub != "me" && len(pos) != 1:
		return usagef("users %s: want one user id, got %d arguments", sub, len(pos))
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "get":
		resp, err := client.GetUser(ctx, &identityv1.GetUserRequest{Id: pos[0]})
		if err != nil {
			return a.identityErr("users get "+pos[0], err)
		}
		return a.printUser(resp, resp.GetUser(), nil)
	case "deactivate":
		resp, err := client.DeactivateUser(ctx, &identityv1.DeactivateUserRequest{Id: pos[0]})
		if err != nil {
			return a.identityErr("users deactivate "+pos[0], err)
		}
		return a.printUser(resp, resp.GetUser(), nil)
	default:
		resp, err := client.GetMe(ctx, &identityv1.GetMeRequest{})
		if err != nil {
			return a.identityErr("users me", err)
		}
		return a.printUser(resp, resp.GetUser(), [][2]string{{"scopes", listOrDash(resp.GetScopes())}})
	}
}

// usersCreate is `meshctl users create`.
func (a *app) usersCreate(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "users create", args: "--email E --name N --role R [--role R…]",
		summary: "Creates a user and prints their one-time password, once: hand it over; the user enrols\n" +
			"TOTP and changes it at first login (meshctl login walks them through the enrolment)."})
	email := fs.String("email", "", "the user's `email`")
	name := fs.String("name", "", "the user's display `name`")
	var roles listFlag
	fs.Var(&roles, "role", "a `role` to give (repeat, or separate with commas)")
	if err := a.noArgs(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" || len(roles) == 0 {
		return usagef("users create: --email, --name and --role are required")
	}
	rs, err := parseRoles(roles)
	if err != nil {
		return usagef("users create: --role: %v", err)
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.CreateUser(ctx, &identityv1.CreateUserRequest{Email: *email, DisplayName: *name, Roles: rs, IdempotencyKey: uuid.NewString()})
	if err != nil {
		return a.identityErr("users create", err)
	}
	return a.printUser(resp, resp.GetUser(), [][2]string{{"one-time password", resp.GetOneTimePassword() + "  (shown once: hand it over)"}})
}

// usersRoles is `meshctl users roles`.
func (a *app) usersRoles(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "users roles", args: "<id> --role R [--role R…]", summary: "Replaces a user's roles."})
	var roles listFlag
	fs.Var(&roles, "role", "a `role` the user keeps or gets (repeat, or separate with commas)")
	pos, err := a.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || len(roles) == 0 {
		return usagef("users roles: want one user id and at least one --role")
	}
	rs, err := parseRoles(roles)
	if err != nil {
		return usagef("users roles: --role: %v", err)
	}
	client, done, err := a.authedIdentity(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.SetUserRoles(ctx, &identityv1.SetUserRolesRequest{Id: pos[0], Roles: rs})
	if err != nil {
		return a.identityErr("users roles "+pos[0], err)
	}
	return a.printUser(resp, resp.GetUser(), nil)
}

// printUser prints a response holding one user: with -o json the whole response as protojson,
// otherwise the user's fields and the extra lines, one per line.
func (a *app) printUser(resp proto.Message, u *identityv1.User, extra [][2]string) error {
	if a.json() {
		return a.printProto(resp)
	}
	kind := "user"
	if u.GetServiceAccount() {
		kind = "service account"
	}
	totpState := "not enrolled"
	if u.GetTotpEnrolled() {
		totpState = "enrolled"
	}
	lines := [][2]string{{"id", u.GetId()}, {"email", u.GetEmail()}, {"name", u.GetDisplayName()},
		{"roles", listOrDash(roleWords(u.GetRoles()))}, {"active", yesNo(u.GetActive())}, {"totp", totpState},
		{"kind", kind}, {"created", fmtTime(u.GetCreatedAt(), a.now())}, {"updated", fmtTime(u.GetUpdatedAt(), a.now())}}
	w := newTable(a.stdout)
	for _, l := range append(lines, extra...) {
		row(w, l[0], l[1])
	}
	return w.Flush()
}

// parseRoles parses role names.
func parseRoles(words []string) ([]identityv1.Role, error) {
	out := make([]identityv1.Role, 0, len(words))
	for _, w := range words {
		r, err := parseRole(w)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// parseRole accepts "admin", "ADMIN" or "ROLE_ADMIN".
func parseRole(s string) (identityv1.Role, error) {
	v, ok := identityv1.Role_value["ROLE_"+strings.TrimPrefix(strings.ToUpper(s), "ROLE_")]
	if !ok || v == 0 {
		return 0, fmt.Errorf("role %q: want admin, dispatcher, engineer, analyst or service", s)
	}
	return identityv1.Role(v), nil
}

// roleWords renders roles as people say them: "admin".
func roleWords(roles []identityv1.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = enumWord(r.String(), "ROLE_")
	}
	return out
}

// yesNo renders a flag for a table.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
