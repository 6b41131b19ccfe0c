package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"meshwork.dev/platform/dataproduct"
	"meshwork.dev/platform/natsauth"
	"meshwork.dev/platform/testinfra"
)

// TestRunHAKeepsAckedEventsWhenANodeProcessDies runs `meshctl up --ha` (the test binary stands
// in for meshctl's nats-node), checks what a service is given (NATS_URL naming the three nodes,
// NATS_REPLICAS=3) and that endpoints.json lists the node processes, publishes through the SDK
// with R3, kill -9s the process of the stream leader's node, reads every acknowledged event
// back, and waits until the launcher has restarted the node (a new pid in endpoints.json) and
// it has rejoined: three meta peers, the stream with two current followers.
func TestRunHAKeepsAckedEventsWhenANodeProcessDies(t *testing.T) {
	t.Parallel()
	// The killed node comes back only after its stream has a new leader on the survivors (a
	// leader election takes some 6 s here), which then serve the reads.
	r := startRun(t, []Service{svc(t, "catalog")}, Options{HA: true, RestartBackoff: 15 * time.Second})
	r.waitFor("\nmesh ready")
	ep := readEndpoints(t, r.opts.Dir)
	if len(strings.Split(ep.NATS, ",")) != 3 || ep.NATSReplicas != 3 {
		t.Fatalf("endpoints NATS %q, replicas %d: want the three nodes and 3", ep.NATS, ep.NATSReplicas)
	}
	out := r.out.String()
	for _, want := range []string{"NATS_URL=" + ep.NATS + " ", "NATS_REPLICAS=3 "} {
		if !strings.Contains(out, want) {
			t.Errorf("the catalog's environment lacks %s", want)
		}
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		p, ok := processNamed(ep, name)
		if !ok || p.Kind != KindNATS || p.Replica != 1 || p.PID == 0 {
			t.Fatalf("endpoints.json processes %+v: want %s, kind nats, with its pid", ep.Processes, name)
		}
		cmdline := cmdlineOf(t, p.PID)
		if !strings.Contains(cmdline, " "+NATSNodeCommand+" ") || !strings.Contains(cmdline, " --name "+name+" ") {
			t.Errorf("%s's command line %q lacks %q and --name %s", name, cmdline, NATSNodeCommand, name)
		}
		if !strings.Contains(out, "["+name+"]") || !strings.Contains(out, `"msg":"node ready","service":"`+name+`"`) {
			t.Errorf("no node ready line of %s", name)
		}
		if b, err := os.ReadFile(filepath.Join(r.opts.Dir, "logs", name+".log")); err != nil || !strings.Contains(string(b), "Server is ready") {
			t.Errorf("logs/%s.log lacks the server's log: %v", name, err)
		}
	}
	for _, infra := range []string{"postgres", "redis"} {
		if p, ok := processNamed(ep, infra); !ok || p.Kind != KindInfra || syscall.Kill(p.PID, 0) != nil {
			t.Errorf("endpoints.json processes %+v: want %s, kind infra, running", ep.Processes, infra)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	keys, err := loadNATSKeys(r.opts.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// The governance user may publish on dp.governance.>; services come in through the callout.
	nc, err := nats.Connect(ep.NATS, nats.UserInfo(natsauth.GovernanceUser, keys.GovernancePassword), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	p := dataproduct.Product{Domain: "governance", Name: "ha-test", Major: 1, Owner: "platform", Contact: "platform@example.com",
		Description: "HA test events", Message: &wrapperspb.StringValue{}, Classification: dataproduct.ClassInternal,
		Replicas: ep.NATSReplicas}
	s, err := dataproduct.Provision(ctx, js, p)
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	pub, err := dataproduct.NewPublisher(js, p)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n {
		if _, err := pub.Publish(ctx, "k", wrapperspb.String(fmt.Sprint(i))); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	si, err := s.Info(ctx)
	if err != nil || si.Cluster == nil || si.Config.Replicas != 3 {
		t.Fatalf("stream info %+v: %v; want R3", si, err)
	}
	// The server node-N runs in the process nats-N.
	victim := "nats-" + strings.TrimPrefix(si.Cluster.Leader, "node-")
	old, ok := processNamed(ep, victim)
	if !ok {
		t.Fatalf("the stream leader %q has no process in %+v", si.Cluster.Leader, ep.Processes)
	}
	killed := time.Now()
	if err := syscall.Kill(old.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	leader := testinfra.WaitStreamLeader(ctx, t, js, p.StreamName(), si.Cluster.Leader)
	if now, _ := processNamed(readEndpoints(t, r.opts.Dir), victim); now.PID != old.PID {
		t.Fatalf("%s restarted before its stream had a new leader", victim)
	}
	t.Logf("%s killed; %s leads the stream after %s", victim, leader, time.Since(killed).Round(time.Millisecond))
	st, err := js.Stream(ctx, p.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if _, err := st.GetMsg(ctx, seq); err != nil {
			t.Errorf("acknowledged event %d is gone after %s was killed: %v", seq, victim, err)
		}
	}

	r.waitFor("[mesh]    " + victim + " exited (signal: killed): restarting in 15s (restart 1 of 3)\n")
	r.waitFor("[mesh]    " + victim + " ready again\n")
	if now, _ := processNamed(readEndpoints(t, r.opts.Dir), victim); now.PID == old.PID || now.PID == 0 {
		t.Errorf("%s's pid in endpoints.json is %d, was %d: want the restarted process's", victim, now.PID, old.PID)
	}
	waitRejoined(ctx, t, ep.NATS, keys, js, p.StreamName())
	t.Logf("%s restarted and a current peer again %s after the kill", victim, time.Since(killed).Round(time.Millisecond))

	r.cancel()
	if err := r.wait(); err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
	for _, p := range readEndpoints(t, r.opts.Dir).Processes {
		if err := syscall.Kill(p.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (%d) still there after Run: %v", p.Name, p.PID, err)
		}
	}
}

// waitRejoined waits until the meta leader counts three current peers and the stream has two
// current followers. Only the meta leader knows its followers' progress, so the test asks every
// server for its JetStream state through the system account and reads the leader's answer.
func waitRejoined(ctx context.Context, t *testing.T, url string, keys natsauth.Keys, js jetstream.JetStream, stream string) {
	t.Helper()
	sys, err := nats.Connect(url, nats.UserInfo(natsauth.SystemUser, keys.SystemPassword), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	var last string
	for ctx.Err() == nil {
		meta := metaPeers(t, sys)
		followers := 0
		if s, err := js.Stream(ctx, stream); err == nil {
			if si, err := s.Info(ctx); err == nil && si.Cluster != nil {
				for _, r := range si.Cluster.Replicas {
					if r.Current && !r.Offline {
						followers++
					}
				}
			}
		}
		if meta == 3 && followers == 2 {
			return
		}
		last = fmt.Sprintf("meta leader: %d current peers; stream: %d current followers", meta, followers)
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the restarted node did not rejoin: %s", last)
}

// metaPeers is how many current peers the meta leader counts, itself included (0 when no
// server answers as the leader within a second).
func metaPeers(t *testing.T, sys *nats.Conn) int {
	inbox := nats.NewInbox()
	sub, err := sys.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sys.PublishRequest("$SYS.REQ.SERVER.PING.JSZ", inbox, nil); err != nil {
		return 0
	}
	deadline := time.Now().Add(time.Second)
	for {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			return 0
		}
		var a struct {
			Server struct {
				Name string `json:"name"`
			} `json:"server"`
			Data struct {
				Meta struct {
					Leader   string `json:"leader"`
					Replicas []struct {
						Current bool `json:"current"`
						Offline bool `json:"offline"`
					} `json:"replicas"`
				} `json:"meta_cluster"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &a) != nil || a.Data.Meta.Leader != a.Server.Name {
			continue
		}
		n := 1
		for _, r := range a.Data.Meta.Replicas {
			if r.Current && !r.Offline {
				n++
			}
		}
		return n
	}
}

func readEndpoints(t *testing.T, dir string) Endpoints {
	t.Helper()
	var ep Endpoints
	b, err := os.ReadFile(filepath.Join(dir, EndpointsFile))
	if err != nil || json.Unmarshal(b, &ep) != nil {
		t.Fatalf("endpoints.json: %v\n%s", err, b)
	}
	return ep
}

func processNamed(ep Endpoints, name string) (Process, bool) {
	i := slices.IndexFunc(ep.Processes, func(p Process) bool { return p.Name == name })
	if i < 0 {
		return Process{}, false
	}
	return ep.Processes[i], true
}

// cmdlineOf is the command line of process pid, its arguments joined by spaces and ending in one.
func cmdlineOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile("\x00").ReplaceAllString(string(b), " ")
}
