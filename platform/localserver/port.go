package localserver

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free when it was asked for. Another process
// may take it before the caller binds it, so prefer letting a server pick its own port where it can.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("localserver.FreePort: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portOrFree returns port, or a free port when port is 0.
func portOrFree(port int) (int, error) {
	if port != 0 {
		return port, nil
	}
	return FreePort()
}

// portTaken reports whether a server failed because its port was taken, which can happen to a
// port from FreePort; the caller then tries another.
func portTaken(err error) bool {
	return strings.Contains(err.Error(), "Address already in use")
}

// waitListening dials addr, a host:port or a Unix socket's absolute path, until it accepts a
// connection or the deadline passes.
func waitListening(addr string, deadline time.Time) error {
	network := "tcp"
	if filepath.IsAbs(addr) {
		network = "unix"
	}
	for {
		c, err := net.DialTimeout(network, addr, 200*time.Millisecond)
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}
