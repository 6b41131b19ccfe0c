package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/meshctl/tail"
	"meshwork.dev/platform/natsauth"
)

// tailCmd is `meshctl tail`.
func (a *app) tailCmd(ctx context.Context, args []string) error {
	fs := a.newFlags(cmdSpec{name: "tail", args: "<product> [--key K] [--since 10m | --seq N | --last N] [-f=false] [-n N]",
		summary: "Prints a product's events, one JSON line each ({seq, subject, id, time, type, key, data}),\n" +
			"decoding payloads with the schema registered in the catalog. Without --since or --seq it\n" +
			"starts with the last 10 events (--last), then follows new ones until Ctrl-C. It reads\n" +
			"through an ephemeral ordered consumer: tailing never shows up as a consumer in lineage.\n" +
			"-o table prints a compact line per event instead."})
	opts := tail.Options{}
	fs.StringVar(&opts.Key, "key", "", "only events of this subject `key` (machine id, vehicle id …)")
	since := fs.String("since", "", "start with events stored since this `age` (10m, 2h) or RFC 3339 time")
	fs.Uint64Var(&opts.StartSeq, "seq", 0, "start at this stream `sequence`")
	fs.IntVar(&opts.Last, "last", tail.DefaultLast, "without --since or --seq, start with the last `N` events (0: only new ones)")
	fs.BoolVar(&opts.Follow, "follow", true, "keep waiting for new events (--follow=false stops once caught up)")
	fs.BoolVar(&opts.Follow, "f", true, "shorthand for --follow")
	fs.IntVar(&opts.Limit, "n", 0, "stop after `N` events (0: no limit)")
	name, err := a.oneProduct(fs, args)
	if err != nil {
		return err
	}
	if err := a.tailStart(&opts, *since); err != nil {
		return err
	}
	desc, err := a.product(ctx, "tail", name)
	if err != nil {
		return err
	}
	// NATS admits the session's holder and lets it read only the products it holds a grant for
	// (meshctl access request).
	// A URL with its own credentials (user:password@host) connects with those instead.
	nopts := []nats.Option{nats.Name("meshctl tail"), nats.Timeout(5 * time.Second)}
	if !strings.Contains(a.g.nats, "@") {
		tok, err := a.bearer(ctx)
		if err != nil {
			return err
		}
		cred := natsauth.Credentials{Subject: natsauth.SubjectOf(tok), Token: func() (string, error) { return tok, nil }}
		nopts = append(nopts, cred.Options()...)
	}
	nc, err := nats.Connect(a.g.nats, nopts...)
	if err != nil {
		return fmt.Errorf("tail: connect to NATS at %s (set with --nats or NATS_URL): %w", a.g.nats, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	desc = a.tailView(ctx, js, desc)
	return tail.Run(ctx, js, desc, opts, a.printEvent)
}

// tailView returns desc pointing at the product's redacted view when the caller may not read
// the stream itself but its view (a grant without PII), and says so on stderr.
func (a *app) tailView(ctx context.Context, js jetstream.JetStream, desc *platformv1.DataProductDescriptor) *platformv1.DataProductDescriptor {
	if len(desc.GetPiiFields()) == 0 {
		return desc
	}
	probe := func(stream string) bool {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err := js.Stream(pctx, stream)
		return err == nil
	}
	view := natsauth.ViewStream(desc.GetName())
	if probe(desc.GetStream()) || !probe(view) {
		return desc
	}
	fmt.Fprintf(a.stderr, "meshctl: reading the redacted view %s: PII fields are keyed hashes (meshctl access request %s --fields pii)\n", view, desc.GetName())
	v := proto.Clone(desc).(*platformv1.DataProductDescriptor)
	v.Stream = view
	v.Subjects = []string{natsauth.ViewPrefix + desc.GetName() + ".>"}
	return v
}

// tailStart checks the start and stop flags and turns --since into a time.
func (a *app) tailStart(opts *tail.Options, since string) error {
	switch {
	case since != "" && opts.StartSeq > 0:
		return usagef("tail: --since and --seq exclude each other")
	case opts.Limit < 0:
		return usagef("tail: -n %d: want 0 or more", opts.Limit)
	case opts.Last < 0:
		return usagef("tail: --last %d: want 0 or more", opts.Last)
	case since == "":
		return nil
	}
	t, err := parseSince(since, a.now())
	if err != nil {
		return usagef("tail: --since: %v", err)
	}
	opts.Since = t
	return nil
}

// parseSince reads an age ("10m", "1h30m", "2d") counted back from now, or an RFC 3339
// time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseAge(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither a positive age like 10m or 2d nor an RFC 3339 time", s)
	}
	return now.Add(-d), nil
}

// parseAge is time.ParseDuration that also takes whole days, "2d".
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	return time.ParseDuration(s)
}

// product fetches a product's descriptor from the catalog.
func (a *app) product(ctx context.Context, op, name string) (*platformv1.DataProductDescriptor, error) {
	ctx, cancel := context.WithTimeout(ctx, catalogTimeout)
	defer cancel()
	client, done, err := a.catalogClient(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	resp, err := client.GetProduct(ctx, &platformv1.GetProductRequest{Name: name})
	if err != nil {
		return nil, a.rpcErr(op+" "+name, err)
	}
	return resp.GetDescriptor_(), nil
}

// printEvent writes one event as a JSON line, or as a compact line with -o table.
func (a *app) printEvent(ev tail.Event) error {
	if a.g.output == "table" {
		_, err := fmt.Fprintln(a.stdout, ev.Line())
		return err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", b)
	return err
}
