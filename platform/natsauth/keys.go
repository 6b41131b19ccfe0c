package natsauth

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nkeys"
)

// The accounts of a mesh server: every connection of the mesh joins Account; the servers'
// own requests (kicking a connection) go through SystemAccount.
const (
	Account       = "MESH"
	SystemAccount = "SYS"
)

// The static users, configured in the server and not asked about: the callout itself, the
// governance service (the catalog: it writes the audit trail), and the system user that cuts
// connections.
const (
	AuthUser       = "auth"
	GovernanceUser = "governance"
	SystemUser     = "sys"
)

// Keys are a mesh server's authentication secrets, generated once (NewKeys) and kept with
// the mesh's other secrets.
type Keys struct {
	// IssuerSeed is the account nkey seed that signs the callout's user JWTs.
	IssuerSeed string `json:"issuer_seed"`
	// AuthPassword, GovernancePassword and SystemPassword are the static users' passwords.
	AuthPassword       string `json:"auth_password"`
	GovernancePassword string `json:"governance_password"`
	SystemPassword     string `json:"system_password"`
	// IdentityPassword is identity's NATS password (Config.Passwords["svc-identity"]).
	IdentityPassword string `json:"identity_password"`
}

// IdentityPrincipal is identity's service account id, the one principal that authenticates
// with a password (it issues the tokens the others present).
const IdentityPrincipal = "svc-identity"

// NewKeys generates fresh keys.
func NewKeys() (Keys, error) {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return Keys{}, fmt.Errorf("natsauth.NewKeys: %w", err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return Keys{}, fmt.Errorf("natsauth.NewKeys: %w", err)
	}
	k := Keys{IssuerSeed: string(seed)}
	for _, p := range []*string{&k.AuthPassword, &k.GovernancePassword, &k.SystemPassword, &k.IdentityPassword} {
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return Keys{}, fmt.Errorf("natsauth.NewKeys: %w", err)
		}
		// A letter, then hex: nats-server parses a $VARIABLE's value as config, where '-' or
		// a leading digit would not read back as the same string.
		*p = "s" + hex.EncodeToString(b)
	}
	return k, nil
}

// Issuer is the key pair of IssuerSeed.
func (k Keys) Issuer() (nkeys.KeyPair, error) {
	kp, err := nkeys.FromSeed([]byte(k.IssuerSeed))
	if err != nil {
		return nil, fmt.Errorf("natsauth: issuer seed: %w", err)
	}
	return kp, nil
}

// IdentityCredential is the token identity connects with: svc-identity:<password>.
func (k Keys) IdentityCredential() string {
	return IdentityPrincipal + ":" + k.IdentityPassword
}

// StaticUser is a user configured in the server, outside the callout (testinfra's test user).
// Its permissions are everything but changing the audit trail.
type StaticUser struct {
	Name, Password string
}

// Configure turns on authentication in o: the accounts, the static users and the auth
// callout, with every other connection asked about through CalloutSubject.
func Configure(o *server.Options, k Keys, extra ...StaticUser) error {
	kp, err := k.Issuer()
	if err != nil {
		return err
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return fmt.Errorf("natsauth.Configure: %w", err)
	}
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	mesh := []string{
		fmt.Sprintf("{user: %s, password: %s}", AuthUser, q(k.AuthPassword)),
		fmt.Sprintf("{user: %s, password: %s}", GovernanceUser, q(k.GovernancePassword)),
	}
	authUsers := []string{AuthUser, GovernanceUser, SystemUser}
	for _, u := range extra {
		mesh = append(mesh, fmt.Sprintf("{user: %s, password: %s}", q(u.Name), q(u.Password)))
		authUsers = append(authUsers, q(u.Name))
	}
	conf := fmt.Sprintf(`
accounts {
  %s: { jetstream: enabled, users: [ %s ] }
  %s: { users: [ {user: %s, password: %s} ] }
}
system_account: %s
authorization {
  timeout: 5
  auth_callout { issuer: %s, account: %s, auth_users: [ %s ] }
}
`, Account, strings.Join(mesh, ", "), SystemAccount, SystemUser, q(k.SystemPassword), SystemAccount,
		pub, Account, strings.Join(authUsers, ", "))
	if err := o.ProcessConfigString(conf); err != nil {
		return fmt.Errorf("natsauth.Configure: %w", err)
	}
	for _, u := range o.Users {
		switch u.Username {
		case AuthUser:
			u.Permissions = &server.Permissions{
				Publish:   &server.SubjectPermission{Deny: []string{">"}},
				Subscribe: &server.SubjectPermission{Allow: []string{CalloutSubject}},
				Response:  &server.ResponsePermission{MaxMsgs: 1},
			}
		case GovernanceUser:
			u.Permissions = governancePermissions()
		case SystemUser:
		default:
			u.Permissions = &server.Permissions{Publish: &server.SubjectPermission{Deny: auditChanges()}}
		}
	}
	return nil
}

// auditChanges are the JetStream API calls that would change the audit stream.
func auditChanges() []string {
	var out []string
	for _, op := range []string{"DELETE", "PURGE", "UPDATE", "MSG.DELETE"} {
		out = append(out, "$JS.API.STREAM."+op+"."+AuditStream)
	}
	return out
}

// governancePermissions are the catalog's: read every stream, write the governance products,
// create (never change or delete) the audit stream, and no stream deletion or purge at all.
func governancePermissions() *server.Permissions {
	return &server.Permissions{
		Publish: &server.SubjectPermission{
			Allow: []string{GovernanceSubjects, "dp.catalog.>", ViewPrefix + ">", "$JS.API.>", "$JS.ACK.>", "$JS.FC.>"},
			Deny: append(auditChanges(), "$JS.API.STREAM.DELETE.*", "$JS.API.STREAM.PURGE.*",
				"$JS.API.STREAM.MSG.DELETE.*"),
		},
		Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"$SYS.>"}},
	}
}
