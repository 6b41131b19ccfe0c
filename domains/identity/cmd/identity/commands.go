package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"meshwork.dev/domains/identity/audit"
	"meshwork.dev/domains/identity/kek"
	"meshwork.dev/domains/identity/password"
	"meshwork.dev/domains/identity/postgres"
	"meshwork.dev/domains/identity/rpc"
	"meshwork.dev/domains/identity/stream"
	"meshwork.dev/domains/identity/token"
	"meshwork.dev/domains/identity/totp"
	"meshwork.dev/domains/identity/user"
	"meshwork.dev/platform/errs"
	"meshwork.dev/platform/service"
)

// Exit codes of the subcommands.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2 // bad arguments or configuration
	exitAdminExists = 3 // bootstrap-admin: an admin already exists
	exitUserExists  = 4 // create-user: a user with the email exists
)

const usage = `usage: identity [subcommand]
  (no subcommand)                       run the service
  bootstrap-admin --email E [--json]    create the first admin; exit 3 if an admin exists
  create-service-account --name N [--json]
                                        create a service account, or rotate its secret
  create-user --email E --name N --role R[,R…] [--json]
                                        create a person with a one-time password;
                                        exit 4 if the email is taken
  rotate-signing-key                    publish a new signing key, signing after
                                        KEY_ACTIVATION_DELAY
  generate-kek                          print a new KEY_ENCRYPTION_KEY
  healthcheck                           probe a running instance (HTTP_ADDR)`

// command runs the subcommand args name and returns its exit code; handled is false when
// args name none (or "healthcheck", which service.Main handles) and the service should run.
func command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (code int, handled bool) {
	if len(args) == 0 || args[0] == service.HealthcheckArg {
		return 0, false
	}
	fail := func(code int, err error) (int, bool) {
		fmt.Fprintf(stderr, "identity %s: %s\n", args[0], oneLine(err))
		return code, true
	}
	switch args[0] {
	case "generate-kek":
		fmt.Fprintln(stdout, kek.Generate())
		return exitOK, true
	case "bootstrap-admin", "create-service-account", "create-user", "rotate-signing-key":
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return exitOK, true
	default:
		fmt.Fprintf(stderr, "identity: unknown subcommand %q\n%s\n", args[0], usage)
		return exitUsage, true
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "the first admin's email address")
	name := fs.String("name", "", "the service account's name, e.g. scheduling; create-user: the person's display name")
	roles := fs.String("role", "", "create-user: the roles, comma-separated (admin, dispatcher, engineer, analyst)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
		return exitUsage, true
	}
	var cfg toolConfig
	key, err := load(getenv, &cfg, &cfg.KEK)
	if err != nil {
		return fail(exitUsage, err)
	}
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return fail(exitFailed, err)
	}
	defer pool.Close()
	store := postgres.New(pool, key, stream.Message)
	if err := store.Migrate(ctx); err != nil {
		return fail(exitFailed, err)
	}
	var out any
	switch args[0] {
	case "bootstrap-admin":
		if *email == "" {
			return fail(exitUsage, errors.New("--email is required"))
		}
		out, err = bootstrapAdmin(ctx, store, *email)
		if errors.Is(err, postgres.ErrAdminExists) {
			return fail(exitAdminExists, errors.New("an admin already exists; nothing was changed"))
		}
	case "create-service-account":
		if *name == "" {
			return fail(exitUsage, errors.New("--name is required"))
		}
		out, err = serviceAccount(ctx, store, *name)
	case "create-user":
		if *email == "" || *name == "" || *roles == "" {
			return fail(exitUsage, errors.New("--email, --name and --role are required"))
		}
		out, err = createUser(ctx, store, *email, *name, *roles)
		if errs.Is(err, errs.Invalid) {
			return fail(exitUsage, err)
		}
		if errs.Is(err, errs.Conflict) {
			return fail(exitUserExists, errors.New("a user with this email exists; nothing was changed"))
		}
	case "rotate-signing-key":
		out, err = rotateSigningKey(ctx, store, cfg.AccessTTL, cfg.KeyActivationDelay)
	}
	if err != nil {
		return fail(exitFailed, err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
	} else {
		fmt.Fprint(stdout, out)
	}
	return exitOK, true
}

func oneLine(err error) string {
	var ce *service.ConfigError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return err.Error()
}

// Bootstrap is what bootstrap-admin prints: the first admin's credentials, shown once.
type Bootstrap struct {
	Email      string `json:"email"`
	Password   string `json:"password"`
	TOTPSecret string `json:"totp_secret"`
	OTPAuthURI string `json:"otpauth_uri"`
}

// String is the human-readable form.
func (b Bootstrap) String() string {
	return fmt.Sprintf("first admin created; keep these safe, they are not shown again\n"+
		"email:        %s\npassword:     %s\ntotp secret:  %s\notpauth uri:  %s\n", b.Email, b.Password, b.TOTPSecret, b.OTPAuthURI)
}

// bootstrapAdmin creates the first admin with a random password and an enrolled TOTP secret,
// or fails with postgres.ErrAdminExists. Its identity.users.v1 event waits in the outbox
// until the service runs.
func bootstrapAdmin(ctx context.Context, store *postgres.Store, email string) (Bootstrap, error) {
	now := postgres.Now()
	u, err := user.New(uuid.NewString(), email, "Administrator", []user.Role{user.Admin}, now)
	if err != nil {
		return Bootstrap{}, err
	}
	u.MarkBootstrapped(now)
	pw, hash, err := oneTimePassword(ctx)
	if err != nil {
		return Bootstrap{}, err
	}
	secret := totp.NewSecret()
	e := audit.Entry{At: now, Action: audit.AdminBootstrapped, ActorID: "system", SubjectID: u.ID()}
	if err := store.CreateFirstAdmin(ctx, postgres.NewUser{User: u, PasswordHash: hash, Audit: e}, secret); err != nil {
		return Bootstrap{}, err
	}
	return Bootstrap{Email: u.Email(), Password: pw, TOTPSecret: totp.EncodeSecret(secret),
		OTPAuthURI: totp.URI("Meshwork", u.Email(), secret)}, nil
}

// oneTimePassword returns a random password and its argon2id hash, for a person created from
// the command line (who changes it at the first login).
func oneTimePassword(ctx context.Context) (pw, hash string, err error) {
	hasher, err := password.NewHasher(password.Default, runtime.GOMAXPROCS(0))
	if err != nil {
		return "", "", err
	}
	pw = rpc.OneTimePassword()
	hash, err = hasher.Hash(ctx, pw)
	return pw, hash, err
}

// NewUser is what create-user prints: the person's id and one-time password, shown once.
type NewUser struct {
	ID              string   `json:"id"`
	Email           string   `json:"email"`
	Roles           []string `json:"roles"`
	OneTimePassword string   `json:"one_time_password"`
}

// String is the human-readable form.
func (n NewUser) String() string {
	return fmt.Sprintf("user created; the password must be changed at the first login (meshctl login)\n"+
		"id:        %s\nemail:     %s\nroles:     %s\npassword:  %s\n", n.ID, n.Email, strings.Join(n.Roles, ","), n.OneTimePassword)
}

// createUser creates a person with roles (comma-separated names) and a one-time password,
// as CreateUser does for an admin; an email in use is a Conflict. Its identity.users.v1 event
// waits in the outbox until the service runs.
func createUser(ctx context.Context, store *postgres.Store, email, name, roleNames string) (NewUser, error) {
	var roles []user.Role
	for _, r := range strings.Split(roleNames, ",") {
		role := user.Role(strings.TrimSpace(r))
		if !role.Valid() || role == user.Service {
			return NewUser{}, errs.BadRequest("identity.createUser", errs.Violation{Field: "role", Description: fmt.Sprintf("%q is not a person's role", r)})
		}
		roles = append(roles, role)
	}
	now := postgres.Now()
	u, err := user.New(uuid.NewString(), email, name, roles, now)
	if err != nil {
		return NewUser{}, err
	}
	pw, hash, err := oneTimePassword(ctx)
	if err != nil {
		return NewUser{}, err
	}
	e := audit.Entry{At: now, Action: audit.UserCreated, ActorID: "system", SubjectID: u.ID(),
		Details: map[string]string{"roles": strings.Join(user.RoleNames(u.Roles()), ",")}}
	if _, err := store.CreateUser(ctx, postgres.NewUser{User: u, PasswordHash: hash, Audit: e}); err != nil {
		return NewUser{}, err
	}
	return NewUser{ID: u.ID(), Email: u.Email(), Roles: user.RoleNames(u.Roles()), OneTimePassword: pw}, nil
}

// Credentials is what create-service-account prints.
type Credentials struct {
	Name         string `json:"name"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// String is the human-readable form.
func (c Credentials) String() string {
	return fmt.Sprintf("name:          %s\nclient id:     %s\nclient secret: %s\n", c.Name, c.ClientID, c.ClientSecret)
}

// serviceAccount creates the service account called name, or gives an existing one a new
// secret, so it can be run at every start of a deployment.
func serviceAccount(ctx context.Context, store *postgres.Store, name string) (Credentials, error) {
	now := postgres.Now()
	u, err := user.NewServiceAccount(uuid.NewString(), name, now)
	if err != nil {
		return Credentials{}, err
	}
	n, resp := rpc.NewServiceAccount(u)
	n.Audit = audit.Entry{At: now, Action: audit.ServiceAccountCreated, ActorID: "system", SubjectID: u.ID(),
		Details: map[string]string{"name": name, "client_id": n.ClientID}}
	_, err = store.CreateServiceAccount(ctx, n)
	if err == nil {
		return Credentials{Name: name, ClientID: resp.GetClientId(), ClientSecret: resp.GetClientSecret()}, nil
	}
	if !errs.Is(err, errs.Conflict) {
		return Credentials{}, err
	}
	secret, hash := token.NewClientSecret()
	_, clientID, err := store.RotateClientSecret(ctx, name, hash, func(u *user.User) audit.Entry {
		return audit.Entry{At: now, Action: audit.ClientSecretRotated, ActorID: "system", SubjectID: u.ID(), Details: map[string]string{"name": name}}
	})
	if err != nil {
		return Credentials{}, err
	}
	return Credentials{Name: name, ClientID: clientID, ClientSecret: secret}, nil
}

// Rotation is what rotate-signing-key prints.
type Rotation struct {
	KeyID        string    `json:"key_id"`
	SignsFrom    time.Time `json:"signs_from"`
	OldKeysUntil time.Time `json:"old_keys_published_until"`
}

// String is the human-readable form.
func (r Rotation) String() string {
	return fmt.Sprintf("new signing key %s; running services publish it within %s and sign with it from %s; old keys stay published until %s\n",
		r.KeyID, keyReload, r.SignsFrom.Format(time.RFC3339), r.OldKeysUntil.Format(time.RFC3339))
}

// rotateSigningKey stores a new key, signing after delay; running instances load it within
// keyReload.
func rotateSigningKey(ctx context.Context, store *postgres.Store, accessTTL, delay time.Duration) (Rotation, error) {
	now := postgres.Now()
	next := token.NewSigningKey(now)
	overlap := token.Overlap(accessTTL, keyReload)
	e := audit.Entry{At: now, Action: audit.SigningKeyRotated, ActorID: "system", SubjectID: next.ID,
		Details: map[string]string{"signs_from": now.Add(delay).Format(time.RFC3339)}}
	activate, err := store.RotateSigningKey(ctx, next, delay, overlap, e)
	if err != nil {
		return Rotation{}, err
	}
	return Rotation{KeyID: next.ID, SignsFrom: activate, OldKeysUntil: activate.Add(overlap)}, nil
}
