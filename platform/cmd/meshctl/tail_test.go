package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	platformv1 "meshwork.dev/contracts/gen/go/mesh/platform/v1"
	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/testinfra"
)

// productServer is the smallest catalog tail needs: GetProduct of the products it holds.
type productServer struct {
	platformv1.UnimplementedCatalogServiceServer
	products map[string]dataproduct.Product
}

func (s productServer) GetProduct(_ context.Context, req *platformv1.GetProductRequest) (*platformv1.GetProductResponse, error) {
	p, ok := s.products[req.GetName()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "product %q is not registered", req.GetName())
	}
	return &platformv1.GetProductResponse{Descriptor_: p.Descriptor()}, nil
}

var productSeq atomic.Int64

// testProduct declares a product whose payload is a real generated message.
func testProduct() dataproduct.Product {
	return dataproduct.Product{
		Domain: "test", Name: "changes-" + strconv.FormatInt(productSeq.Add(1), 10), Major: 1,
		Owner: "platform-team", Contact: "#platform", Description: "product changes for tail tests",
		Message: &platformv1.ProductChanged{}, Classification: dataproduct.ClassInternal,
	}
}

// tailEnv is a NATS server with provisioned products and a catalog serving them.
type tailEnv struct {
	t       *testing.T
	ctx     context.Context
	js      jetstream.JetStream
	nc      *nats.Conn
	natsURL string
	catalog string
}

func newTailEnv(t *testing.T, products ...dataproduct.Product) *tailEnv {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
	t.Cleanup(cancel)
	n := testinfra.StartNATS(t)
	e := &tailEnv{t: t, ctx: ctx, nc: n.Connect(t), natsURL: n.URL}
	var err error
	if e.js, err = jetstream.New(e.nc); err != nil {
		t.Fatal(err)
	}
	srv := productServer{products: map[string]dataproduct.Product{}}
	for _, p := range products {
		srv.products[p.ID()] = p
		if _, err := dataproduct.Provision(ctx, e.js, p); err != nil {
			t.Fatalf("Provision %s: %v", p.ID(), err)
		}
	}
	e.catalog = startCatalog(t, srv)
	return e
}

// publish sends a ProductChanged with revision rev on key.
func (e *tailEnv) publish(pub *dataproduct.Publisher, key string, rev int64) {
	e.t.Helper()
	if _, err := pub.Publish(e.ctx, key, &platformv1.ProductChanged{Name: "x." + key + ".v1", Revision: rev}); err != nil {
		e.t.Fatalf("Publish: %v", err)
	}
}

// publisher returns a publisher of p.
func (e *tailEnv) publisher(p dataproduct.Product) *dataproduct.Publisher {
	e.t.Helper()
	pub, err := dataproduct.NewPublisher(e.js, p)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = pub.Close(context.Background()) })
	return pub
}

// args are the global flags pointing meshctl at e.
func (e *tailEnv) args(args ...string) []string {
	return append(args, "--catalog", e.catalog, "--nats", e.natsURL)
}

// tailLine is one JSON line of tail's output.
type tailLine struct {
	Seq     uint64
	Subject string
	ID      string
	Time    string
	Type    string
	Key     string
	Data    *struct {
		Name     string
		Revision string
	}
	Error string
}

// parseLines decodes tail's JSON lines, failing t on anything else.
func parseLines(t *testing.T, out string) []tailLine {
	t.Helper()
	var lines []tailLine
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		var tl tailLine
		if err := json.Unmarshal([]byte(l), &tl); err != nil {
			t.Fatalf("line %q is not JSON: %v", l, err)
		}
		lines = append(lines, tl)
	}
	return lines
}

// seqs lists the lines' stream sequences.
func seqs(lines []tailLine) []uint64 {
	var out []uint64
	for _, l := range lines {
		out = append(out, l.Seq)
	}
	return out
}

// TestTail publishes events on three keys, one with a payload that does not decode, and
// reads them back through run with the starts, filters and limits tail offers.
func TestTail(t *testing.T) {
	t.Parallel()
	p := testProduct()
	e := newTailEnv(t, p)
	pub := e.publisher(p)
	for i := range 6 { // seq 1..6 alternate m-1, m-2; revision = seq
		e.publish(pub, "m-"+strconv.Itoa(i%2+1), int64(i+1))
	}
	// seq 7: a payload that is not a ProductChanged, with the product's headers.
	subject, _ := p.Subject("m-3")
	bad := nats.NewMsg(subject)
	bad.Header.Set(dataproduct.HeaderID, "bad-event")
	bad.Header.Set(dataproduct.HeaderType, "mesh.platform.v1.ProductChanged")
	bad.Data = []byte{0x0a, 0x64, 'x'} // field 1, 100 bytes announced, 1 there
	if _, err := e.js.PublishMsg(e.ctx, bad); err != nil {
		t.Fatal(err)
	}
	e.publish(pub, "m-3", 8) // seq 8
	stream, err := e.js.Stream(e.ctx, p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	stored4, err := stream.GetMsg(e.ctx, 4)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		args []string
		want []uint64
	}{
		{name: "last 10 by default", want: []uint64{1, 2, 3, 4, 5, 6, 7, 8}},
		{name: "last 2", args: []string{"--last", "2"}, want: []uint64{7, 8}},
		{name: "one key", args: []string{"--key", "m-1"}, want: []uint64{1, 3, 5}},
		{name: "last 2 of a key", args: []string{"--key", "m-2", "--last", "2"}, want: []uint64{4, 6}},
		{name: "from a sequence", args: []string{"--seq", "5"}, want: []uint64{5, 6, 7, 8}},
		{name: "from a sequence, one key", args: []string{"--seq", "3", "--key", "m-2"}, want: []uint64{4, 6}},
		{name: "since a time", args: []string{"--since", stored4.Time.Format(time.RFC3339Nano)}, want: []uint64{4, 5, 6, 7, 8}},
		{name: "since an age", args: []string{"--since", "1h", "--key", "m-3"}, want: []uint64{7, 8}},
		{name: "limit", args: []string{"--seq", "2", "-n", "3"}, want: []uint64{2, 3, 4}},
		{name: "unknown key", args: []string{"--key", "m-9"}, want: nil},
		{name: "only new events", args: []string{"--last", "0"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := meshctlAt(t, e.ctx, time.Now(), e.args(append([]string{"tail", p.ID(), "--follow=false"}, tt.args...)...)...)
			r.wantCode(t, 0)
			if r.stderr != "" {
				t.Errorf("stderr = %q", r.stderr)
			}
			if got := seqs(parseLines(t, r.stdout)); !slices.Equal(got, tt.want) {
				t.Errorf("sequences %v, want %v\n%s", got, tt.want, r.stdout)
			}
		})
	}

	t.Run("json lines", func(t *testing.T) {
		t.Parallel()
		r := meshctlAt(t, e.ctx, time.Now(), e.args("tail", p.ID(), "-f=false", "--key", "m-3")...)
		r.wantCode(t, 0)
		lines := parseLines(t, r.stdout)
		if len(lines) != 2 {
			t.Fatalf("got %d lines, want 2:\n%s", len(lines), r.stdout)
		}
		garbled, good := lines[0], lines[1]
		if garbled.Seq != 7 || garbled.ID != "bad-event" || garbled.Data != nil ||
			!strings.Contains(garbled.Error, "mesh.platform.v1.ProductChanged") || garbled.Key != "m-3" {
			t.Errorf("undecodable event printed as %+v", garbled)
		}
		if _, err := time.Parse(time.RFC3339Nano, garbled.Time); err != nil {
			t.Errorf("event without ce-time has time %q: %v", garbled.Time, err)
		}
		want := tailLine{Seq: 8, Subject: "dp." + p.ID() + ".m-3", Type: "mesh.platform.v1.ProductChanged", Key: "m-3"}
		if good.Seq != want.Seq || good.Subject != want.Subject || good.Type != want.Type || good.Key != want.Key ||
			good.ID == "" || good.Error != "" || good.Data == nil || good.Data.Revision != "8" || good.Data.Name != "x.m-3.v1" {
			t.Errorf("event printed as %+v (data %+v), want %+v with revision 8", good, good.Data, want)
		}
		if _, err := time.Parse(time.RFC3339Nano, good.Time); err != nil {
			t.Errorf("time %q: %v", good.Time, err)
		}
		if !strings.Contains(r.stdout, `"data":{"name":"x.m-3.v1","domain":"","owner":"","revision":"8",`) {
			t.Errorf("payload JSON is not compact protojson with zero values:\n%s", r.stdout)
		}
	})

	t.Run("table lines", func(t *testing.T) {
		t.Parallel()
		r := meshctlAt(t, e.ctx, time.Now(), e.args("tail", p.ID(), "-f=false", "--seq", "7", "-o", "table")...)
		r.wantCode(t, 0)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "#7 ") || !strings.Contains(lines[0], " m-3 error: ") ||
			!strings.HasPrefix(lines[1], "#8 ") || !strings.Contains(lines[1], ` m-3 {"name":"x.m-3.v1"`) {
			t.Errorf("table output:\n%s", r.stdout)
		}
	})

	t.Run("no durable consumers", func(t *testing.T) {
		t.Parallel()
		r := meshctlAt(t, e.ctx, time.Now(), e.args("tail", p.ID(), "-f=false")...)
		r.wantCode(t, 0)
		for info, err := range consumers(e.ctx, stream) {
			if err != nil {
				t.Fatal(err)
			}
			if info.Config.Durable != "" {
				t.Errorf("tail left the durable consumer %q", info.Config.Durable)
			}
		}
	})
}

// consumers iterates over the stream's consumers.
func consumers(ctx context.Context, s jetstream.Stream) func(yield func(*jetstream.ConsumerInfo, error) bool) {
	return func(yield func(*jetstream.ConsumerInfo, error) bool) {
		l := s.ListConsumers(ctx)
		for info := range l.Info() {
			if !yield(info, nil) {
				return
			}
		}
		if err := l.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// TestTailFollows checks that tail waits for new events, stops after -n of them, and ends
// cleanly when its context is cancelled (Ctrl-C).
func TestTailFollows(t *testing.T) {
	t.Parallel()
	p := testProduct()
	e := newTailEnv(t, p)
	pub := e.publisher(p)
	e.publish(pub, "m-1", 1)

	t.Run("until -n", func(t *testing.T) {
		out, done := tailAsync(t, e.ctx, e.args("tail", p.ID(), "-n", "3")...)
		first := readLine(t, out)
		// Only now, with tail waiting, publish the rest.
		e.publish(pub, "m-1", 2)
		e.publish(pub, "m-2", 3)
		lines := []string{first, readLine(t, out), readLine(t, out)}
		if code := <-done; code != 0 {
			t.Fatalf("tail -n 3 exited %d", code)
		}
		got := seqs(parseLines(t, strings.Join(lines, "\n")))
		if !slices.Equal(got, []uint64{1, 2, 3}) {
			t.Errorf("followed sequences %v, want [1 2 3]", got)
		}
	})

	t.Run("until cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(e.ctx)
		out, done := tailAsync(t, ctx, e.args("tail", p.ID(), "--seq", "3")...)
		if got := parseLines(t, readLine(t, out)); len(got) != 1 || got[0].Seq != 3 {
			t.Fatalf("first event %+v, want seq 3", got)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("tail ended by Ctrl-C exited %d, want 0", code)
		}
	})
}

// TestTailErrors covers what tail reports instead of events.
func TestTailErrors(t *testing.T) {
	t.Parallel()
	provisioned := testProduct()
	e := newTailEnv(t, provisioned)
	// A product the catalog knows but whose stream was never created.
	unprovisioned := testProduct()
	srv := productServer{products: map[string]dataproduct.Product{unprovisioned.ID(): unprovisioned, provisioned.ID(): provisioned}}
	catalog := startCatalog(t, srv)

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "unknown product", args: []string{"tail", "nope.x.v1", "--catalog", catalog, "--nats", e.natsURL},
			want: []string{`tail nope.x.v1: not found: product "nope.x.v1" is not registered`}},
		{name: "no stream", args: []string{"tail", unprovisioned.ID(), "--catalog", catalog, "--nats", e.natsURL},
			want: []string{"stream " + unprovisioned.StreamName() + " of " + unprovisioned.ID() + " does not exist"}},
		{name: "bad key", args: []string{"tail", provisioned.ID(), "--key", "a.b", "--catalog", catalog, "--nats", e.natsURL},
			want: []string{"not a single subject token"}},
		{name: "NATS down", args: []string{"tail", provisioned.ID(), "--catalog", catalog, "--nats", "nats://" + closedAddr(t), "--token", "t"},
			want: []string{"tail: connect to NATS at nats://127.0.0.1:"}},
		{name: "not signed in", args: []string{"tail", provisioned.ID(), "--catalog", catalog, "--nats", "nats://" + closedAddr(t)},
			want: []string{"not logged in: run meshctl login"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := meshctlAt(t, e.ctx, time.Now(), tt.args...)
			r.wantCode(t, 1)
			r.wantErrLine(t, tt.want...)
		})
	}
}

// meshctlAt runs a command line with ctx and the clock at now.
func meshctlAt(t *testing.T, ctx context.Context, now time.Time, args ...string) result {
	t.Helper()
	var stdout, stderr strings.Builder
	a := newApp(func(string) string { return "" }, strings.NewReader(""), &stdout, &stderr)
	a.now = func() time.Time { return now }
	code := a.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// tailAsync runs a command in the background, streaming its stdout; done yields its exit code.
func tailAsync(t *testing.T, ctx context.Context, args ...string) (*bufio.Reader, <-chan int) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		var stderr strings.Builder
		code := newApp(func(string) string { return "" }, strings.NewReader(""), pw, &stderr).run(ctx, args)
		if stderr.Len() > 0 {
			t.Errorf("stderr: %s", stderr.String())
		}
		_ = pw.Close()
		done <- code
	}()
	t.Cleanup(func() { _ = pr.Close() })
	return bufio.NewReader(pr), done
}

// readLine reads one line of output, failing t if none comes within waitLimit.
func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		l, _ := r.ReadString('\n')
		ch <- l
	}()
	select {
	case l := <-ch:
		if l == "" {
			t.Fatal("output ended")
		}
		return strings.TrimSuffix(l, "\n")
	case <-time.After(waitLimit):
		t.Fatalf("no output line within %s", waitLimit)
		return ""
	}
}
