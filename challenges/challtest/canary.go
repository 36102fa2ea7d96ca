package challtest

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Canary is a TCP listener that accepts and immediately closes connections,
// counting them. A test points a forbidden target at it and asserts that
// [Canary.Connections] stays zero.
type Canary struct {
	ln    net.Listener
	count atomic.Int64
	done  sync.WaitGroup
}

// NewCanary listens on addr (for example "127.0.0.2:0") until the test ends.
func NewCanary(t testing.TB, addr string) *Canary {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("challtest: canary listening on %s: %v", addr, err)
	}
	c := &Canary{ln: ln}
	c.done.Go(c.serve)
	t.Cleanup(func() {
		ln.Close()
		c.done.Wait()
	})
	return c
}

func (c *Canary) serve() {
	for {
		conn, err := c.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		c.count.Add(1)
		conn.Close()
	}
}

// Addr returns the listening address as host:port.
func (c *Canary) Addr() string { return c.ln.Addr().String() }

// Port returns the listening port.
func (c *Canary) Port() int { return c.ln.Addr().(*net.TCPAddr).Port }

// Connections returns how many connections were accepted so far.
func (c *Canary) Connections() int { return int(c.count.Load()) }

// ClosedPort returns a port of 127.0.0.1 that nothing listens on: it was
// free a moment ago, so a connection to it is normally refused.
func ClosedPort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("challtest: finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
