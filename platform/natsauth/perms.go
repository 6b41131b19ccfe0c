package natsauth

import (
	"slices"
	"strings"

	"github.com/nats-io/jwt/v2"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/partition"
)

// Kind is what sort of principal a connection authenticated as.
type Kind int

// The kinds of principal, each with its own permissions.
const (
	// Person is a user signed in with identity: it reads the products it holds grants for.
	Person Kind = iota
	// Service is a domain's service account (svc-<domain>): it publishes its domain's
	// products, manages their streams and reads the products its domain holds grants for.
	Service
	// Simulator is a data generator's account (svc-<domain>-sim): it publishes on its domain's
	// ingest subjects and nothing else.
	Simulator
	// Admin may do anything but change the audit stream.
	Admin
)

func (k Kind) String() string {
	switch k {
	case Service:
		return "service"
	case Simulator:
		return "simulator"
	case Admin:
		return "admin"
	}
	return "person"
}

// Principal is who a connection authenticated as, and what it asked to manage.
type Principal struct {
	// Subject is the token's subject: a user id or a service account's client id.
	Subject string
	Kind    Kind
	// Domain is a Service's or Simulator's domain.
	Domain string
	// Streams are the streams a Service declared at connect (see Declare); only those in its
	// domain's namespace (<DOMAIN>_…) are granted.
	Streams []string
}

// Grant is one product a principal may read.
type Grant struct {
	// Product is the product id, <domain>.<name>.v<major>.
	Product string
	// PII is true when the grant includes the fields marked PII.
	PII bool
	// View is true when the principal reads the product's redacted view (ViewStream) instead
	// of its stream: a grant without PII on a product with PII fields.
	View bool
}

// ViewPrefix starts the subjects of the redacted views: dpv.<product id>.<key>. Only the
// governance service publishes on them.
const ViewPrefix = "dpv."

// ViewStream is the stream of a product's redacted view: its stream's name and _REDACTED.
func ViewStream(id string) string { return dataproduct.StreamNameOf(id) + "_REDACTED" }

// AuditStream is the stream of governance.audit.v1. No principal may delete, purge, update
// it or delete its messages, admin included; only the governance service publishes on it.
const AuditStream = "GOVERNANCE_AUDIT_V1"

// GovernanceSubjects are the subjects only the governance service (the catalog) publishes on:
// the audit trail and the access events.
const GovernanceSubjects = "dp.governance.>"

// IngestPrefix starts the subjects devices and simulators publish raw data on: ingest.<domain>.>.
const IngestPrefix = "ingest."

// edgeSubjects are the subjects a domain's devices publish on besides ingest.<domain>.>: MQTT
// topics arrive as subjects of their own (quality's factory/<machine>/<sensor>).
var edgeSubjects = map[string][]string{"quality": {"factory.>"}}

// InboxPrefix is the inbox prefix a principal's connection must use, _INBOX.<subject>: replies
// to one principal cannot be read by another.
func InboxPrefix(subject string) string {
	return "_INBOX." + token(subject)
}

// token turns s into one subject token: characters other than letters, digits, '-' and '_'
// become '_'.
func token(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// Namespace is the prefix of the stream names a domain owns: its name in upper case with
// dashes as underscores, then an underscore (QUALITY_).
func Namespace(domain string) string {
	return strings.ToUpper(strings.ReplaceAll(domain, "-", "_")) + "_"
}

// OwnStreams returns the streams of p's declaration that it may manage: those in its domain's
// namespace, and its own partition membership buckets' (KV_PT_<domain>--…, package
// partition), never the audit stream.
func OwnStreams(p Principal) []string {
	if p.Kind != Service || p.Domain == "" {
		return nil
	}
	ns, buckets := Namespace(p.Domain), kvStreamPrefix+partition.BucketPrefix(p.Domain)
	var out []string
	for _, s := range p.Streams {
		own := strings.HasPrefix(s, ns) && len(s) > len(ns) || strings.HasPrefix(s, buckets) && len(s) > len(buckets)
		if own && s != AuditStream && token(s) == s && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// kvStreamPrefix starts the stream of a key-value bucket: KV_<bucket>.
const kvStreamPrefix = "KV_"

// Permissions computes the permissions of p holding grants. domains are the mesh's consumer
// namespaces (every domain): the durable consumers of those namespaces on a granted product are
// closed to anyone outside them, so an ephemeral reader cannot take their deliveries.
func Permissions(p Principal, grants []Grant, domains []string) jwt.Permissions {
	var perm jwt.Permissions
	inbox := InboxPrefix(p.Subject) + ".>"
	perm.Sub.Allow.Add(inbox)
	// An allow list is always set: NATS reads an empty one as "everything" (only the deny
	// list would hold), so a principal without grants would get all but the denied.
	perm.Pub.Allow.Add("$JS.API.INFO")
	switch p.Kind {
	case Admin:
		perm.Pub.Allow.Add(">")
		perm.Sub.Allow.Add(">")
	case Simulator:
		perm.Pub.Allow.Add(IngestPrefix + p.Domain + ".>")
		perm.Pub.Allow.Add(edgeSubjects[p.Domain]...)
	case Service:
		d := p.Domain
		perm.Pub.Allow.Add("dp."+d+".>", dataproduct.DeadLetterPrefix+d+".>", IngestPrefix+d+".>")
		perm.Sub.Allow.Add(IngestPrefix + d + ".>")
		perm.Pub.Allow.Add("$JS.API.INFO", "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST")
		// Every producer parks poison messages on the shared dead-letter stream, which
		// Provision creates when it is missing; creating it is all a domain may do to it.
		perm.Pub.Allow.Add("$JS.API.STREAM.CREATE."+dataproduct.DeadLetterStream, "$JS.API.STREAM.INFO."+dataproduct.DeadLetterStream)
		// Likewise rule violations: each domain records its own, on publish and on consume.
		perm.Pub.Allow.Add(dataproduct.ViolationPrefix+d+".>",
			"$JS.API.STREAM.CREATE."+dataproduct.ViolationStream, "$JS.API.STREAM.INFO."+dataproduct.ViolationStream)
		for _, s := range OwnStreams(p) {
			manage(&perm, s)
			if b, ok := strings.CutPrefix(s, kvStreamPrefix); ok {
				perm.Pub.Allow.Add("$KV." + b + ".>")
			}
		}
		for _, g := range grants {
			read(&perm, g, d, domains)
			if !g.View {
				partitioned(&perm, d, g.Product)
			}
		}
	case Person:
		for _, g := range grants {
			read(&perm, g, token(p.Subject), domains)
		}
	}
	// Nobody changes the audit trail or writes governance events but the governance service
	// (a static user, not one the callout makes).
	for _, op := range []string{"DELETE", "PURGE", "UPDATE", "MSG.DELETE", "CREATE"} {
		perm.Pub.Deny.Add("$JS.API.STREAM." + op + "." + AuditStream)
	}
	perm.Pub.Deny.Add(GovernanceSubjects, ViewPrefix+">")
	if p.Kind != Admin {
		perm.Sub.Deny.Add("$SYS.>")
		perm.Pub.Deny.Add("$SYS.>")
	}
	perm.Resp = nil
	return perm
}

// manage lets a service do everything to its own stream s and its consumers.
func manage(perm *jwt.Permissions, s string) {
	for _, op := range []string{"CREATE", "UPDATE", "DELETE", "PURGE", "INFO", "MSG.GET", "MSG.DELETE"} {
		perm.Pub.Allow.Add("$JS.API.STREAM." + op + "." + s)
	}
	perm.Pub.Allow.Add("$JS.API.DIRECT.GET."+s, "$JS.API.DIRECT.GET."+s+".>")
	for _, op := range []string{"CREATE", "DURABLE.CREATE", "INFO", "DELETE", "MSG.NEXT", "PAUSE"} {
		perm.Pub.Allow.Add("$JS.API.CONSUMER." + op + "." + s + ".>")
	}
	perm.Pub.Allow.Add("$JS.API.CONSUMER.CREATE."+s, "$JS.API.CONSUMER.LIST."+s, "$JS.API.CONSUMER.NAMES."+s)
	perm.Pub.Allow.Add("$JS.ACK."+s+".>", "$JS.FC."+s+".>")
}

// partitioned lets domain d consume product id in partitions (package partition): manage its
// work stream <D>_PT_<PRODUCT STREAM> and that stream's consumers, and its membership bucket
// PT_<d>--<product> (stream KV_…, subjects $KV.<bucket>.>). The work stream is filled by the
// server sourcing the product; nobody publishes on its subjects. A redacted view (a grant
// without PII on a product with PII fields) is read through its view stream only, so it has
// no partitioned consumption.
func partitioned(perm *jwt.Permissions, d, id string) {
	manage(perm, partition.StreamNameOf(d, id))
	bucket := partition.BucketOf(d, id)
	manage(perm, kvStreamPrefix+bucket)
	perm.Pub.Allow.Add("$KV." + bucket + ".>")
}

// read lets namespace ns read g's product (or its redacted view): its own durable
// <ns>--<product>, ephemeral (ordered) consumers, and the subjects live. The other
// namespaces' durables stay closed.
func read(perm *jwt.Permissions, g Grant, ns string, domains []string) {
	id := g.Product
	s, live := dataproduct.StreamNameOf(id), "dp."+id+".>"
	if g.View {
		s, live = ViewStream(id), ViewPrefix+id+".>"
	}
	durable := dataproduct.DurableNameOf(ns, id)
	perm.Pub.Allow.Add("$JS.API.STREAM.INFO."+s, "$JS.API.DIRECT.GET."+s, "$JS.API.DIRECT.GET."+s+".>")
	perm.Pub.Allow.Add("$JS.API.STREAM.MSG.GET." + s)
	for _, op := range []string{"CREATE", "DURABLE.CREATE", "INFO", "DELETE", "MSG.NEXT"} {
		perm.Pub.Allow.Add("$JS.API.CONSUMER."+op+"."+s+".*", "$JS.API.CONSUMER."+op+"."+s+".*.>")
	}
	perm.Pub.Allow.Add("$JS.ACK."+s+"."+durable+".>", "$JS.FC."+s+".>")
	perm.Sub.Allow.Add(live)
	for _, d := range domains {
		if d == ns {
			continue
		}
		other := dataproduct.DurableNameOf(d, id)
		for _, op := range []string{"CREATE", "DURABLE.CREATE", "INFO", "DELETE", "MSG.NEXT"} {
			perm.Pub.Deny.Add("$JS.API.CONSUMER."+op+"."+s+"."+other, "$JS.API.CONSUMER."+op+"."+s+"."+other+".>")
		}
	}
}
