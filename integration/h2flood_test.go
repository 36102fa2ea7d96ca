package integration

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

const (
	// h2ResetStreams is how many HEADERS + RST_STREAM pairs the rapid
	// reset flood sends.
	h2ResetStreams = 5000
	// h2ContinuationFrames and h2ContinuationBytes bound the
	// CONTINUATION flood, whichever comes first.
	h2ContinuationFrames = 10000
	h2ContinuationBytes  = 1 << 20
	// h2FloodTime bounds each flood connection (its deadline).
	h2FloodTime = 5 * time.Second
	// h2ProbeTimeout bounds each availability probe.
	h2ProbeTimeout = 5 * time.Second
)

// TestHTTP2RapidReset covers SECURITY-CATALOGUE I3 (HTTP/2 rapid reset,
// CVE-2023-44487 / CVE-2023-39325, and the CONTINUATION flood,
// CVE-2023-45288) end to end: one connection sends thousands of streams
// each cancelled at once, another an endless header block; meanwhile and
// afterwards ordinary HTTPS clients get the directory in time and the
// gateway process survives. How the server ends the flood connections
// (GOAWAY or close) is not asserted. HTTP/2 is off by default
// (TestListenerProtocols); this gateway turns it on.
func TestHTTP2RapidReset(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withConfig("http2: true\n"))
	pid := g.proc.cmd.Process.Pid

	// Probe the directory over fresh connections, one after the other at
	// most every 100ms, while the floods run.
	stop := make(chan struct{})
	var probes sync.WaitGroup
	var probeCount, probeFails atomic.Int32
	var probeErrs sync.Map
	probes.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			n := probeCount.Add(1)
			if err := h2Probe(g); err != nil {
				probeFails.Add(1)
				probeErrs.Store(n, err)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})

	sent, err := h2RapidReset(t, g)
	t.Logf("rapid reset: sent %d HEADERS+RST_STREAM pairs; writing ended with %v", sent, err)
	if err := h2Probe(g); err != nil {
		t.Errorf("directory after the rapid reset flood: %v", err)
	}

	frames, bytesSent, err := h2ContinuationFlood(t, g)
	t.Logf("continuation flood: sent %d CONTINUATION frames (%d bytes); writing ended with %v",
		frames, bytesSent, err)

	close(stop)
	probes.Wait()
	probeErrs.Range(func(k, v any) bool {
		t.Errorf("directory probe %v during the floods: %v", k, v)
		return true
	})
	t.Logf("%d directory probes during the floods, %d failed", probeCount.Load(), probeFails.Load())

	for i := range 3 {
		if err := h2Probe(g); err != nil {
			t.Errorf("directory probe %d after the floods: %v", i, err)
		}
	}
	if g.proc.exited() || g.proc.cmd.Process.Pid != pid {
		t.Fatalf("the gateway process exited or changed during the floods: %v", g.proc.err)
	}
}

// h2Probe fetches the directory with a new ordinary HTTPS client (HTTP/2
// when offered) and wants 200 within h2ProbeTimeout.
func h2Probe(g *gateway) error {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: g.RootPool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: h2ProbeTimeout}
	start := time.Now()
	resp, err := client.Get("https://" + g.Addr + "/acme/directory")
	if err != nil {
		return fmt.Errorf("after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("got status %d (%s), want 200", resp.StatusCode, resp.Proto)
	}
	return nil
}

// h2Conn is a raw HTTP/2 client connection for a flood.
type h2Conn struct {
	conn net.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	done chan struct{} // closed when the server side has ended
	// readErr is why reading ended: nil when the server closed the
	// connection, a timeout at the deadline. Valid once done is closed.
	readErr error
}

// dialH2 opens a TLS connection negotiating h2, bounded by h2FloodTime,
// writes the client preface and an empty SETTINGS frame, and discards
// whatever the server sends.
func dialH2(t *testing.T, g *gateway) *h2Conn {
	t.Helper()
	d := &net.Dialer{Timeout: h2FloodTime}
	conn, err := tls.DialWithDialer(d, "tcp", g.Addr, &tls.Config{
		RootCAs: g.RootPool, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"},
	})
	if err != nil {
		t.Fatalf("dialing h2: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Fatalf("negotiated ALPN %q, want h2", p)
	}
	if err := conn.SetDeadline(time.Now().Add(h2FloodTime)); err != nil {
		t.Fatalf("setting the deadline: %v", err)
	}
	c := &h2Conn{conn: conn, bw: bufio.NewWriterSize(conn, 64<<10), done: make(chan struct{})}
	c.fr = http2.NewFramer(c.bw, nil)
	go func() {
		defer close(c.done)
		_, c.readErr = io.Copy(io.Discard, conn)
	}()
	if _, err := io.WriteString(c.bw, http2.ClientPreface); err != nil {
		t.Fatalf("writing the preface: %v", err)
	}
	if err := c.fr.WriteSettings(); err != nil {
		t.Fatalf("writing SETTINGS: %v", err)
	}
	return c
}

// finish leaves the server time to work through what was sent: it waits
// until the server ends the connection or the deadline passes, then closes
// it, and says which happened.
func (c *h2Conn) finish() string {
	start := time.Now()
	<-c.done
	c.conn.Close()
	waited := time.Since(start).Round(time.Millisecond)
	if c.readErr == nil {
		return fmt.Sprintf("the server closed the connection %v after the last write", waited)
	}
	return fmt.Sprintf("reading ended %v after the last write with %v", waited, c.readErr)
}

// directoryHeaders is the header block of GET /acme/directory.
func directoryHeaders(authority string) []byte {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"},
		{Name: ":scheme", Value: "https"},
		{Name: ":authority", Value: authority},
		{Name: ":path", Value: "/acme/directory"},
	} {
		_ = enc.WriteField(f)
	}
	return buf.Bytes()
}

// h2RapidReset opens streams and cancels each at once, flushing in
// batches. It returns how many pairs were written and the error that
// ended writing, if any.
func h2RapidReset(t *testing.T, g *gateway) (sent int, err error) {
	c := dialH2(t, g)
	defer func() { t.Logf("rapid reset connection: %s", c.finish()) }()
	block := directoryHeaders(g.Addr)
	for i := range h2ResetStreams {
		id := uint32(2*i + 1)
		if err := c.fr.WriteHeaders(http2.HeadersFrameParam{
			StreamID: id, BlockFragment: block, EndStream: true, EndHeaders: true,
		}); err != nil {
			return sent, err
		}
		if err := c.fr.WriteRSTStream(id, http2.ErrCodeCancel); err != nil {
			return sent, err
		}
		sent++
		if sent%100 == 0 {
			if err := c.bw.Flush(); err != nil {
				return sent, err
			}
		}
	}
	return sent, c.bw.Flush()
}

// h2ContinuationFlood sends HEADERS without END_HEADERS and then
// CONTINUATION frames that never end the block, up to
// h2ContinuationFrames frames or h2ContinuationBytes bytes.
func h2ContinuationFlood(t *testing.T, g *gateway) (frames, sent int, err error) {
	c := dialH2(t, g)
	defer func() { t.Logf("continuation flood connection: %s", c.finish()) }()
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{
		StreamID: 1, BlockFragment: directoryHeaders(g.Addr), EndStream: true, EndHeaders: false,
	}); err != nil {
		return 0, 0, err
	}
	// Each fragment is a whole literal header field, never indexed, so
	// the block stays valid however much of it arrives.
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	_ = enc.WriteField(hpack.HeaderField{Name: "x-flood", Value: strings.Repeat("a", 90), Sensitive: true})
	fragment := buf.Bytes()
	for frames < h2ContinuationFrames && sent+len(fragment) <= h2ContinuationBytes {
		if err := c.fr.WriteContinuation(1, false, fragment); err != nil {
			return frames, sent, err
		}
		frames++
		sent += len(fragment)
		if frames%100 == 0 {
			if err := c.bw.Flush(); err != nil {
				return frames, sent, err
			}
		}
	}
	return frames, sent, c.bw.Flush()
}

// TestListenerProtocols checks what the HTTPS listener offers in ALPN:
// HTTP/1.1 alone by default, HTTP/2 first when `http2: true`.
func TestListenerProtocols(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, config, want string
	}{
		{"default", "", "http/1.1"},
		{"http2 on", "http2: true\n", "h2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []gatewayOption
			if tt.config != "" {
				opts = append(opts, withConfig(tt.config))
			}
			g := startGateway(t, opts...)
			d := &net.Dialer{Timeout: 5 * time.Second}
			conn, err := tls.DialWithDialer(d, "tcp", g.Addr, &tls.Config{
				RootCAs: g.RootPool, MinVersion: tls.VersionTLS12,
				NextProtos: []string{"h2", "http/1.1"},
			})
			if err != nil {
				t.Fatalf("dialing: %v", err)
			}
			defer conn.Close()
			if got := conn.ConnectionState().NegotiatedProtocol; got != tt.want {
				t.Errorf("negotiated %q, want %q", got, tt.want)
			}
		})
	}
}
