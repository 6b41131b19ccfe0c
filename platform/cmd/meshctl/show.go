package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
)

// showCmd is `meshctl catalog show`.
func (a *app) showCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "catalog show", args: "<product> [--proto]",
		summary: "Shows a product's contract (owner, schema, stream, subjects, PII fields) and what its\nstream holds now (messages, freshness, consumers and their lag). --proto prints the\npayload schema as .proto source instead."})
	protoOnly := fs.Bool("proto", false, "print the payload schema as .proto source")
	name, err := a.oneProduct(fs, args)
	if err != nil {
		return err
	}
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return err
	}
	defer done()
	resp, err := client.GetProduct(ctx, &platformv1.GetProductRequest{Name: name})
	if err != nil {
		return a.rpcErr("catalog show "+name, err)
	}
	switch {
	case *protoOnly:
		printProtoFiles(a.stdout, resp.GetProtoFiles())
		return nil
	case a.json():
		return a.printProto(resp)
	}
	printProduct(a.stdout, resp, a.now())
	return nil
}

// oneProduct parses a command taking exactly one product id.
func (a *app) oneProduct(fs *cmdFlags, args []string) (string, error) {
	pos, err := a.parse(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		return "", usagef("%s: want one product id like quality.clean-readings.v1, got %d arguments", fs.Name(), len(pos))
	}
	return pos[0], nil
}

// printProtoFiles prints schema files, each under a comment naming its path.
func printProtoFiles(w io.Writer, files []*platformv1.ProtoFile) {
	for i, f := range files {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "// ==> %s <==\n%s", f.GetPath(), f.GetSource())
		if !strings.HasSuffix(f.GetSource(), "\n") {
			fmt.Fprintln(w)
		}
	}
}

// printProduct renders GetProduct's answer for people.
func printProduct(out io.Writer, resp *platformv1.GetProductResponse, now time.Time) {
	d := resp.GetDescriptor_()
	fmt.Fprintf(out, "%s  (revision %d, updated %s)\n", d.GetName(), resp.GetRevision(), fmtTime(resp.GetUpdatedAt(), now))
	if d.GetDescription() != "" {
		fmt.Fprintf(out, "%s\n", d.GetDescription())
	}
	fmt.Fprintln(out)

	w := newTable(out)
	contact := d.GetOwner()
	if d.GetContact() != "" {
		contact += " (" + d.GetContact() + ")"
	}
	subjects := listOrDash(d.GetSubjects())
	if d.GetKeyDescription() != "" {
		subjects += "  (key: " + d.GetKeyDescription() + ")"
	}
	row(w, "owner", contact)
	row(w, "domain", d.GetDomain())
	row(w, "classification", classWord(d.GetClassification()))
	row(w, "message", d.GetSchema().GetMessageName())
	row(w, "schema ref", d.GetSchema().GetSchemaRef())
	row(w, "stream", d.GetStream())
	row(w, "subjects", subjects)
	row(w, "retention", fmtPBDuration(d.GetRetention()))
	row(w, "freshness objective", fmtPBDuration(d.GetFreshnessObjective()))
	row(w, "upstreams", listOrDash(d.GetUpstreams()))
	row(w, "served by", listOrDash(d.GetServedBy()))
	row(w, "tags", listOrDash(d.GetTags()))
	_ = w.Flush()

	fmt.Fprintln(out, "\nPII fields")
	if len(d.GetPiiFields()) == 0 {
		fmt.Fprintln(out, "  none")
	} else {
		w = newTable(out)
		row(w, "  PATH", "MESSAGE", "CLASSIFICATION")
		for _, f := range d.GetPiiFields() {
			row(w, "  "+f.GetPath(), f.GetMessageName(), classWord(f.GetClassification()))
		}
		_ = w.Flush()
	}
	printRules(out, d.GetRules(), resp.GetObserved().GetRuleViolations())
	printObserved(out, resp.GetObserved(), now)
}

// printRules lists the quality rules, if any, with the violations recorded on each side.
func printRules(out io.Writer, rs []*platformv1.QualityRule, counts []*platformv1.RuleViolationCount) {
	if len(rs) == 0 {
		return
	}
	fmt.Fprintln(out, "\nQuality rules (violations: publish / consume)")
	w := newTable(out)
	row(w, "  RULE", "POLICY", "DIMENSION", "VIOLATIONS", "EXPRESSION")
	for _, r := range rs {
		var pub, con uint64
		for _, c := range counts {
			if c.GetRuleId() != r.GetId() {
				continue
			}
			if c.GetSide() == "publish" {
				pub += c.GetCount()
			} else {
				con += c.GetCount()
			}
		}
		dim := r.GetDimension()
		if dim == "" {
			dim = "-"
		}
		policy := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(r.GetPolicy().String(), "RULE_POLICY_"), "_", "-"))
		row(w, "  "+r.GetId(), policy, dim, fmt.Sprintf("%d / %d", pub, con), r.GetExpression())
	}
	_ = w.Flush()
}

// printObserved renders the stream state the catalog read from JetStream.
func printObserved(out io.Writer, o *platformv1.ObservedState, now time.Time) {
	fmt.Fprintf(out, "\nObserved on the stream at %s\n", fmtTime(o.GetObservedAt(), now))
	if o == nil || !o.GetStreamExists() {
		fmt.Fprintln(out, "  the stream does not exist yet")
		return
	}
	w := newTable(out)
	row(w, "  messages", strconv.FormatUint(o.GetMessages(), 10))
	row(w, "  bytes", fmtBytes(o.GetBytes()))
	row(w, "  sequences", fmt.Sprintf("%d–%d", o.GetFirstSequence(), o.GetLastSequence()))
	row(w, "  last message", fmtTime(o.GetLastMessageTime(), now))
	row(w, "  freshness", fmtFreshness(o.GetFreshness()))
	_ = w.Flush()

	fmt.Fprintln(out, "\nConsumers")
	if len(o.GetConsumers()) == 0 {
		fmt.Fprintln(out, "  none")
		return
	}
	w = newTable(out)
	row(w, "  NAME", "DOMAIN", "FILTER", "LAG", "ACK PENDING", "REDELIVERED", "LAST ACTIVE")
	for _, c := range o.GetConsumers() {
		domain := c.GetConsumerDomain()
		if domain == "" {
			domain = "-"
		}
		row(w, "  "+c.GetName(), domain, listOrDash(c.GetFilterSubjects()),
			strconv.FormatUint(c.GetNumPending(), 10), strconv.FormatUint(c.GetNumAckPending(), 10),
			strconv.FormatUint(c.GetNumRedelivered(), 10), fmtTime(c.GetLastActive(), now))
	}
	_ = w.Flush()
}

// fmtFreshness renders the verdict with the age and the objective.
func fmtFreshness(f *platformv1.Freshness) string {
	if f == nil {
		return "-"
	}
	s := enumWord(f.GetState().String(), "FRESHNESS_STATE_")
	if f.GetAge() != nil || f.GetObjective() != nil {
		age := "-"
		if f.GetAge() != nil {
			age = fmtAge(f.GetAge().AsDuration().Round(time.Second))
		}
		s += fmt.Sprintf(" (age %s, objective %s)", age, fmtPBDuration(f.GetObjective()))
	}
	return s
}
