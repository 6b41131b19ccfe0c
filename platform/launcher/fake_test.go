package launcher

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// The test binary doubles as the fake children of the supervision tests: linked into a bin
// directory under a fake's name, it runs that fake instead of the tests. The fakes read nothing
// but the environment the launcher gives them.
var fakes = map[string]func() int{
	"catalog":     fakeService,
	"quality":     fakeService,
	"stubborn":    fakeStubborn,
	"broken":      fakeBroken,
	"quality-sim": fakeSimulator,
}

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == NATSNodeCommand { // the node processes of Options.HA
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := RunNATSNode(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	name := filepath.Base(os.Args[0])
	if fake, ok := fakes[name]; ok {
		os.Exit(fake())
	}
	if name == Identity { // linked by the tests that want it, not by startRun
		os.Exit(fakeIdentity())
	}
	os.Exit(m.Run())
}

// linkFakes makes a bin directory holding the named fakes.
func linkFakes(t *testing.T, names ...string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(self, filepath.Join(bin, n)); err != nil {
			t.Fatal(err)
		}
	}
	return bin
}

// fakeService prints its pid and environment, answers /readyz with 503 twice and 200 after,
// exits 3 on /crash and 0 on SIGTERM (saying "terminated").
func fakeService() int {
	env := os.Environ()
	slices.Sort(env)
	fmt.Printf("pid=%d\n", os.Getpid())
	fmt.Printf("env: %s\n", strings.Join(env, " "))
	fmt.Fprint(os.Stderr, "a line on stderr\nand a last line without newline")
	var asked atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if asked.Add(1) <= 2 {
			fmt.Println("readyz: not yet")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, `{"status":"ready"}`)
	})
	mux.HandleFunc("/crash", func(http.ResponseWriter, *http.Request) {
		fmt.Println("crashing on request")
		os.Exit(3)
	})
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	go func() {
		<-sig
		fmt.Println("terminated")
		os.Exit(0)
	}()
	err := http.ListenAndServe(os.Getenv("HTTP_ADDR"), mux)
	fmt.Println(err)
	return 1
}

// fakeStubborn is ready at once and ignores SIGTERM.
func fakeStubborn() int {
	signal.Ignore(syscall.SIGTERM)
	fmt.Printf("pid=%d\n", os.Getpid())
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(http.ResponseWriter, *http.Request) {})
	fmt.Println(http.ListenAndServe(os.Getenv("HTTP_ADDR"), mux))
	return 1
}

// fakeBroken fails during start-up.
func fakeBroken() int {
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(os.Stderr, "broken line %d\n", i)
	}
	return 1
}

// fakeSimulator runs until SIGTERM.
func fakeSimulator() int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	env := os.Environ()
	slices.Sort(env)
	fmt.Printf("pid=%d\n", os.Getpid())
	fmt.Printf("env: %s\n", strings.Join(env, " "))
	fmt.Println("simulating")
	<-sig
	fmt.Println("terminated")
	return 0
}
