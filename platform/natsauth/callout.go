package natsauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// CalloutSubject is where nats-server asks who a connecting client is.
const CalloutSubject = "$SYS.REQ.USER.AUTH"

// DeclarePrefix starts the user name by which a service declares the streams it manages.
const DeclarePrefix = "streams="

// Declare is the NATS user name a service connects with to manage streams: streams=A,B.
func Declare(streams ...string) string {
	return DeclarePrefix + strings.Join(streams, ",")
}

// Identity is what a verified token says about its bearer.
type Identity struct {
	Subject, ClientID string
	Roles             []string
	Expiry            time.Time
}

// HasRole reports whether the bearer has role.
func (i *Identity) HasRole(role string) bool { return slices.Contains(i.Roles, role) }

// Refusal is one connection the callout turned away, for the audit trail.
type Refusal struct {
	// Principal is who the client claimed to be, when the claim could be read ("" otherwise).
	Principal string
	// Host is the client's address.
	Host string
	// Reason says why, without the credential.
	Reason string
}

// Admission is one connection the callout let in.
type Admission struct {
	Principal Principal
	Grants    []Grant
	Expires   time.Time
}

// Config configures a Callout.
type Config struct {
	// Verify checks a mesh access token against identity's key set (auth.Verifier.Verify,
	// adapted: this package cannot import auth, whose tests start servers through it).
	Verify func(ctx context.Context, token string) (Identity, error)
	// Issuer signs the user JWTs: the account key whose public key the server trusts
	// (Keys.Issuer).
	Issuer nkeys.KeyPair
	// Account is the account the users join (Account).
	Account string
	// Passwords are principals that authenticate with <id>:<secret> instead of a token:
	// identity, which issues the tokens and so cannot present one before its key set is up.
	// Each is a Service of the domain its id names.
	Passwords map[string]string
	// Grants returns the products a principal (user id, or a service's domain) may read.
	Grants func(ctx context.Context, p Principal) ([]Grant, error)
	// Domains returns the mesh's consumer namespaces (see Permissions).
	Domains func(ctx context.Context) []string
	// MaxTTL bounds how long one admission lasts when the credential does not expire
	// (passwords); zero means an hour. The client reconnects past it, through the callout.
	MaxTTL time.Duration
	// Refused and Admitted, when set, are told of every decision (the audit trail).
	Refused  func(Refusal)
	Admitted func(Admission)
	Log      *slog.Logger
}

// Callout answers nats-server's authorization requests: it verifies the client's mesh
// credential and answers with a user JWT carrying the permissions Permissions computes.
type Callout struct {
	cfg Config
	mu  sync.Mutex
	// conns remembers the connections of each principal, so Kick can cut them.
	conns map[string]map[conn]struct{}
}

type conn struct {
	server string
	id     uint64
}

// maxConnsPerPrincipal bounds the connections remembered per principal (older ones have
// usually gone; kicking a gone connection does nothing).
const maxConnsPerPrincipal = 256

// NewCallout returns a callout; Serve starts answering.
func NewCallout(cfg Config) *Callout {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = time.Hour
	}
	if cfg.Account == "" {
		cfg.Account = Account
	}
	return &Callout{cfg: cfg, conns: map[string]map[conn]struct{}{}}
}

// Serve subscribes nc (a user listed in the server's auth_users) to the callout subject, in a
// queue group so replicas share the work. Unsubscribe the returned subscription to stop.
func (c *Callout) Serve(nc *nats.Conn) (*nats.Subscription, error) {
	sub, err := nc.QueueSubscribe(CalloutSubject, "meshwork-auth", c.handle)
	if err != nil {
		return nil, fmt.Errorf("natsauth.Serve: %w", err)
	}
	return sub, nc.Flush()
}

// calloutTimeout bounds one decision (verifying a token may fetch the key set).
const calloutTimeout = 5 * time.Second

func (c *Callout) handle(m *nats.Msg) {
	req, err := jwt.DecodeAuthorizationRequestClaims(string(m.Data))
	if err != nil {
		c.cfg.Log.Warn("natsauth: undecodable authorization request", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), calloutTimeout)
	defer cancel()
	p, expires, err := c.authenticate(ctx, &req.AuthorizationRequest)
	if err != nil {
		if c.cfg.Refused != nil {
			c.cfg.Refused(Refusal{Principal: p.Subject, Host: req.ClientInformation.Host, Reason: err.Error()})
		}
		c.respond(m, req, "", "authentication failed: "+err.Error())
		return
	}
	var grants []Grant
	if c.cfg.Grants != nil {
		if grants, err = c.cfg.Grants(ctx, p); err != nil {
			c.cfg.Log.Error("natsauth: grants", "principal", p.Subject, "err", err)
			c.respond(m, req, "", "grants unavailable")
			return
		}
	}
	var domains []string
	if c.cfg.Domains != nil {
		domains = c.cfg.Domains(ctx)
	}
	uc := jwt.NewUserClaims(req.UserNkey)
	uc.Name = p.Subject
	uc.Audience = c.cfg.Account
	uc.Expires = expires.Unix()
	uc.Permissions = Permissions(p, grants, domains)
	uc.Tags.Add("kind:" + p.Kind.String())
	ujwt, err := uc.Encode(c.cfg.Issuer)
	if err != nil {
		c.cfg.Log.Error("natsauth: encode user", "err", err)
		c.respond(m, req, "", "internal error")
		return
	}
	c.remember(p.Subject, conn{server: req.Server.ID, id: req.ClientInformation.ID})
	if c.cfg.Admitted != nil {
		c.cfg.Admitted(Admission{Principal: p, Grants: grants, Expires: expires})
	}
	c.respond(m, req, ujwt, "")
}

func (c *Callout) respond(m *nats.Msg, req *jwt.AuthorizationRequestClaims, ujwt, reason string) {
	rc := jwt.NewAuthorizationResponseClaims(req.UserNkey)
	rc.Audience = req.Server.ID
	rc.Jwt = ujwt
	rc.Error = reason
	tok, err := rc.Encode(c.cfg.Issuer)
	if err != nil {
		c.cfg.Log.Error("natsauth: encode response", "err", err)
		return
	}
	if err := m.Respond([]byte(tok)); err != nil {
		c.cfg.Log.Warn("natsauth: respond", "err", err)
	}
}

// errNoCredential is a connection that presented nothing to check.
var errNoCredential = errors.New("no credential: connect with a mesh access token")

// authenticate finds the principal behind the CONNECT options and until when it holds.
func (c *Callout) authenticate(ctx context.Context, o *jwt.AuthorizationRequest) (Principal, time.Time, error) {
	opts := o.ConnectOptions
	cred, declared := opts.Token, ""
	if strings.HasPrefix(opts.Username, DeclarePrefix) {
		declared = strings.TrimPrefix(opts.Username, DeclarePrefix)
	}
	if cred == "" {
		// MQTT clients and the nats CLI's --password carry the token as the password.
		cred = opts.Password
	}
	if cred == "" {
		return Principal{}, time.Time{}, errNoCredential
	}
	var p Principal
	var expires time.Time
	if id, secret, ok := strings.Cut(cred, ":"); ok && !strings.Contains(cred, ".") {
		want, known := c.cfg.Passwords[id]
		if !known || subtle.ConstantTimeCompare([]byte(want), []byte(secret)) != 1 {
			return Principal{Subject: id}, time.Time{}, errors.New("wrong password")
		}
		p = principalOf(id, nil)
		expires = time.Now().Add(c.cfg.MaxTTL)
	} else {
		if c.cfg.Verify == nil {
			return Principal{}, time.Time{}, errors.New("tokens are not accepted")
		}
		claims, err := c.cfg.Verify(ctx, cred)
		if err != nil {
			return Principal{Subject: unverifiedSubject(cred)}, time.Time{}, err
		}
		subject := claims.Subject
		if claims.ClientID != "" {
			subject = claims.ClientID // a service account: its client id names its domain
		}
		p = principalOf(subject, &claims)
		expires = claims.Expiry
		if expires.IsZero() || time.Until(expires) > c.cfg.MaxTTL {
			expires = time.Now().Add(c.cfg.MaxTTL)
		}
	}
	if declared != "" && p.Kind == Service {
		p.Streams = strings.Split(declared, ",")
	}
	return p, expires, nil
}

// principalOf classifies a subject: svc-<domain>-sim is a Simulator, svc-<domain> a Service
// (with the service role when claims are given), anyone with the admin role an Admin.
func principalOf(subject string, claims *Identity) Principal {
	p := Principal{Subject: subject, Kind: Person}
	if claims != nil && claims.HasRole("admin") {
		p.Kind = Admin
		return p
	}
	name, svc := strings.CutPrefix(subject, "svc-")
	if !svc || (claims != nil && !claims.HasRole("service")) {
		return p
	}
	if d, sim := strings.CutSuffix(name, "-sim"); sim {
		p.Kind, p.Domain = Simulator, d
		return p
	}
	p.Kind, p.Domain = Service, name
	return p
}

// SubjectOf reads the "sub" of a token without verifying it: for a client naming its own
// inbox prefix, and for the audit trail of a refused token. Never trust it.
func SubjectOf(token string) string { return unverifiedSubject(token) }

// unverifiedSubject reads the "sub" of a token that failed verification, for the audit
// trail only ("" when it cannot be read); it is never trusted.
func unverifiedSubject(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := decodeSegment(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &c) != nil || len(c.Sub) > 128 {
		return ""
	}
	return c.Sub
}

func (c *Callout) remember(principal string, cn conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := c.conns[principal]
	if set == nil {
		set = map[conn]struct{}{}
		c.conns[principal] = set
	}
	if len(set) >= maxConnsPerPrincipal {
		for k := range set {
			delete(set, k)
			break
		}
	}
	set[cn] = struct{}{}
}

// Kick disconnects every connection principal made through this callout, through the system
// account connection sys; the clients reconnect through the callout and get the permissions
// that hold now. It returns how many connections it asked the servers to cut.
func (c *Callout) Kick(sys *nats.Conn, principal string) (int, error) {
	c.mu.Lock()
	set := c.conns[principal]
	delete(c.conns, principal)
	c.mu.Unlock()
	n := 0
	var errs []error
	for cn := range set {
		body, _ := json.Marshal(struct {
			CID uint64 `json:"cid"`
		}{cn.id})
		// A gone connection answers with an error we ignore; only transport errors count.
		if _, err := sys.Request("$SYS.REQ.SERVER."+cn.server+".KICK", body, 2*time.Second); err != nil && !errors.Is(err, nats.ErrTimeout) {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// Principals returns the principals with remembered connections.
func (c *Callout) Principals() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.conns))
	for p := range c.conns {
		out = append(out, p)
	}
	return out
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(s)
}
