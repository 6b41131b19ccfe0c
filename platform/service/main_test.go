package service_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"meshwork.dev/platform/service"
	"meshwork.dev/platform/testinfra"
)

// mainModeEnv makes the test binary act as a service's main (see TestMain).
const mainModeEnv = "SERVICE_TEST_MAIN_MODE"

func TestMain(m *testing.M) {
	if mode := os.Getenv(mainModeEnv); mode != "" {
		service.Main("demo", func(ctx context.Context, getenv func(string) string) error {
			switch mode {
			case "fail":
				return errors.New("database down\nretry later")
			case "serve":
				return demoRun(ctx, getenv, os.Stdout)
			}
			return errors.New("unknown mode " + mode)
		})
		return
	}
	testinfra.Main(m)
}

// runMain starts the test binary as a service main with env added to its environment.
func runMain(t *testing.T, mode string, env ...string) (*exec.Cmd, *bytes.Buffer, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{mainModeEnv + "=" + mode}, env...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr, bufio.NewScanner(stdout)
}

func exitStatus(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode()
}

func TestMainExitStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, mode string
		env        []string
		status     int
		stderr     string
	}{
		{"config error", "serve", []string{"GRPC_ADDR=abc", "SHUTDOWN_TIMEOUT=ten"}, 2,
			`demo: config: GRPC_ADDR: "abc" is not host:port; SHUTDOWN_TIMEOUT: "ten" is not a duration (like 10s or 1m30s)` + "\n"},
		{"other error", "fail", nil, 1, "demo: database down retry later\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd, stderr, stdout := runMain(t, tt.mode, tt.env...)
			for stdout.Scan() {
			}
			if got := exitStatus(t, cmd); got != tt.status {
				t.Errorf("exit status %d, want %d", got, tt.status)
			}
			if stderr.String() != tt.stderr {
				t.Errorf("stderr:\n got %q\nwant %q", stderr.String(), tt.stderr)
			}
		})
	}
}

func TestMainStopsCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	ns := testinfra.StartNATS(t)
	cmd, stderr, stdout := runMain(t, "serve", "GRPC_ADDR=127.0.0.1:0", "HTTP_ADDR=127.0.0.1:0", "NATS_URL="+ns.URL)
	var logs []string
	serving := false
	for stdout.Scan() {
		logs = append(logs, stdout.Text())
		if !serving && strings.Contains(stdout.Text(), `"msg":"serving"`) {
			serving = true
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !serving {
		t.Fatalf("the service never served; stderr %q, logs:\n%s", stderr, strings.Join(logs, "\n"))
	}
	if got := exitStatus(t, cmd); got != 0 {
		t.Errorf("exit status after SIGTERM %d, want 0; stderr %q", got, stderr)
	}
	if last := logs[len(logs)-1]; !strings.Contains(last, `"msg":"stopped"`) {
		t.Errorf("last log line %q, want the clean stop", last)
	}
}
