package integration

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	// abuseReadHeaderTimeout is acme.read_header_timeout in the abuse
	// tests, short so that slow connections are seen closed quickly.
	abuseReadHeaderTimeout = 2 * time.Second
	// abuseMaxIdentifiers and abuseMaxPending are acme.max_identifiers
	// and acme.max_pending_orders in the abuse tests.
	abuseMaxIdentifiers = 3
	abuseMaxPending     = 2
	// abuseMaxBody is the default acme.max_body_bytes.
	abuseMaxBody = 64 << 10
	// slowConns is how many slowloris connections are opened.
	slowConns = 200
)

// startAbuseGateway starts a gateway with small limits.
func startAbuseGateway(t *testing.T) *gateway {
	t.Helper()
	return startGateway(t, withDataDir(newDataDir(t)), withConfig(fmt.Sprintf(
		"acme:\n  read_header_timeout: %s\n  max_identifiers: %d\n  max_pending_orders: %d\n",
		abuseReadHeaderTimeout, abuseMaxIdentifiers, abuseMaxPending)))
}

// TestAbuseSlowloris opens many TLS connections that send their request
// headers a byte at a time (SECURITY-CATALOGUE I2): a normal client's
// requests still succeed quickly, and the gateway closes every slow
// connection once acme.read_header_timeout has passed.
func TestAbuseSlowloris(t *testing.T) {
	t.Parallel()
	g := startAbuseGateway(t)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := newRawACME(t, g)
	c.register(ctx)

	// A normal request: POST-as-GET of the account, signed, with a
	// database read.
	normal := func() (time.Duration, error) {
		r, err := c.post(ctx, c.kid, nil)
		if err != nil {
			return 0, err
		}
		if r.status != http.StatusOK {
			return 0, fmt.Errorf("POST-as-GET account: got %v, want 200", r)
		}
		return r.took, nil
	}
	var baseline []time.Duration
	for range 5 {
		d, err := normal()
		if err != nil {
			t.Fatalf("before the slow connections: %v", err)
		}
		baseline = append(baseline, d)
	}

	// Open the slow connections, 20 handshakes at a time.
	type slowResult struct {
		open   time.Duration // from handshake to the server closing it
		closed bool
		err    error
	}
	results := make([]slowResult, slowConns)
	var established atomic.Int32
	var wg sync.WaitGroup
	gate := make(chan struct{}, 20)
	for i := range slowConns {
		wg.Go(func() {
			gate <- struct{}{}
			conn, err := (&tls.Dialer{Config: &tls.Config{RootCAs: g.RootPool, MinVersion: tls.VersionTLS12,
				NextProtos: []string{"http/1.1"}, ServerName: "127.0.0.1"}}).DialContext(ctx, "tcp", g.Addr)
			<-gate
			if err != nil {
				results[i].err = err
				return
			}
			defer conn.Close()
			established.Add(1)
			results[i].open, results[i].closed = trickle(conn, g.Addr)
		})
	}
	// Measure while the connections trickle: wait until most are open.
	for deadline := time.Now().Add(30 * time.Second); established.Load() < slowConns*9/10 &&
		time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	var during []time.Duration
	for range 5 {
		d, err := normal()
		if err != nil {
			t.Errorf("with %d slow connections open: %v", established.Load(), err)
			continue
		}
		during = append(during, d)
	}
	wg.Wait()

	refused, kept := 0, 0
	var longest time.Duration
	for _, r := range results {
		switch {
		case r.err != nil:
			refused++
		case !r.closed:
			kept++
		default:
			longest = max(longest, r.open)
		}
	}
	if refused > 0 {
		t.Logf("%d of %d slow connections could not be opened (first error: %v)", refused, slowConns,
			firstErr(results, func(r slowResult) error { return r.err }))
	}
	if kept > 0 {
		t.Errorf("%d slow connections were still open after %v, want each closed after the %v read_header_timeout",
			kept, slowlorisCap, abuseReadHeaderTimeout)
	}
	if longest > abuseReadHeaderTimeout+faultMargin {
		t.Errorf("a slow connection stayed open %v, want at most read_header_timeout %v plus %v",
			longest, abuseReadHeaderTimeout, faultMargin)
	}
	slices.Sort(baseline)
	slices.Sort(during)
	if len(during) > 0 && during[len(during)-1] > 5*time.Second+4*baseline[len(baseline)-1] {
		t.Errorf("with slow connections open the slowest normal request took %v, want near the %v baseline",
			during[len(during)-1], baseline[len(baseline)-1])
	}
	if len(during) > 0 {
		t.Logf("abuse figures: %d slow connections (%d opened), all closed within %v; normal request median "+
			"%v without them, %v with them (max %v)", slowConns, slowConns-refused,
			longest.Round(time.Millisecond), baseline[len(baseline)/2].Round(time.Millisecond),
			during[len(during)/2].Round(time.Millisecond), during[len(during)-1].Round(time.Millisecond))
	}
}

// slowlorisCap bounds how long one slow connection trickles.
const slowlorisCap = 15 * time.Second

// trickle sends a request header a byte every 200ms and reports how long
// the connection stayed open and whether the server ended it (closed it or
// answered) before slowlorisCap.
func trickle(conn net.Conn, host string) (time.Duration, bool) {
	header := "POST /acme/new-order HTTP/1.1\r\nHost: " + host + "\r\nContent-Type: application/jose+json\r\n" +
		strings.Repeat("X-Slow: slowloris\r\n", 64)
	start := time.Now()
	buf := make([]byte, 512)
	for i := 0; time.Since(start) < slowlorisCap; i++ {
		if _, err := conn.Write([]byte{header[i%len(header)]}); err != nil {
			return time.Since(start), true
		}
		_ = conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := conn.Read(buf)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
			return time.Since(start), true // an answer, EOF or a reset: the server acted
		}
	}
	return time.Since(start), false
}

func firstErr[T any](s []T, f func(T) error) error {
	for _, v := range s {
		if err := f(v); err != nil {
			return err
		}
	}
	return nil
}

// TestAbuseLimits sends requests past each configured limit and checks the
// exact problem and that nothing was created (SECURITY-CATALOGUE I1, I6,
// A12).
func TestAbuseLimits(t *testing.T) {
	t.Parallel()
	g := startAbuseGateway(t)

	t.Run("body over the limit", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		c := newRawACME(t, g)
		c.register(ctx)
		r, err := c.send(ctx, c.dir.NewOrder, []byte(strings.Repeat("a", abuseMaxBody+1)))
		if err != nil {
			t.Fatal(err)
		}
		wantProblemReply(t, r, "malformed", http.StatusRequestEntityTooLarge)
		// Refused before the body is read, so it never waits for the
		// whole upload; the bound only catches a hang.
		if r.took > 10*time.Second {
			t.Errorf("413 took %v, want it refused early (under 10s)", r.took)
		}
		wantNoOrders(t, ctx, c)
	})

	t.Run("endless body", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		c := newRawACME(t, g)
		const limit = 256 << 20
		body := &countingReader{limit: limit}
		r, err := c.sendReader(ctx, c.dir.NewOrder, body)
		if err != nil {
			t.Fatal(err)
		}
		wantProblemReply(t, r, "malformed", http.StatusRequestEntityTooLarge)
		if sent := body.read.Load(); sent >= limit/4 {
			t.Errorf("the client could send %d bytes before the 413, want the gateway to stop reading near %d",
				sent, abuseMaxBody)
		}
		t.Logf("abuse figures: 413 after the client sent %d bytes of a %d-byte body, in %v",
			body.read.Load(), limit, r.took.Round(time.Millisecond))
	})

	t.Run("too many identifiers", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		c := newRawACME(t, g)
		c.register(ctx)
		var names []string
		for i := range abuseMaxIdentifiers + 1 {
			names = append(names, fmt.Sprintf("n%d.many.test.internal", i))
		}
		r, err := c.newOrder(ctx, names...)
		if err != nil {
			t.Fatal(err)
		}
		wantProblemReply(t, r, "rejectedIdentifier", http.StatusBadRequest)
		wantNoOrders(t, ctx, c)
		// Exactly the limit is allowed.
		r, err = c.newOrder(ctx, names[:abuseMaxIdentifiers]...)
		if err != nil || r.status != http.StatusCreated {
			t.Errorf("new-order with %d identifiers: got %v, %v; want 201", abuseMaxIdentifiers, r, err)
		}
	})

	t.Run("too many pending orders", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		c := newRawACME(t, g)
		c.register(ctx)
		for i := range abuseMaxPending {
			r, err := c.newOrder(ctx, fmt.Sprintf("p%d.pending.test.internal", i))
			if err != nil || r.status != http.StatusCreated {
				t.Fatalf("pending order %d: got %v, %v; want 201", i+1, r, err)
			}
		}
		r, err := c.newOrder(ctx, "over.pending.test.internal")
		if err != nil {
			t.Fatal(err)
		}
		wantProblemReply(t, r, "rateLimited", http.StatusTooManyRequests)
		if n := retryAfterSeconds(r); n < 1 {
			t.Errorf("rateLimited: got Retry-After %q, want a number of seconds ≥ 1", r.header.Get("Retry-After"))
		}
		if n := countOrders(t, ctx, c); n != abuseMaxPending {
			t.Errorf("the account has %d orders, want the %d allowed", n, abuseMaxPending)
		}
	})

	t.Run("deeply nested JSON", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
		defer cancel()
		c := newRawACME(t, g)
		c.register(ctx)
		// Deep enough to overflow a recursive parser's budget, small
		// enough to stay under the body limit once base64url-encoded.
		const depth = 10_000
		nested := strings.Repeat("[", depth) + strings.Repeat("]", depth)
		nestedObj := strings.Repeat(`{"a":`, depth/2) + "1" + strings.Repeat("}", depth/2)
		cases := []struct {
			name string
			send func() (*rawReply, error)
		}{
			{"body", func() (*rawReply, error) {
				return c.send(ctx, c.dir.NewOrder, []byte(nested))
			}},
			{"body member", func() (*rawReply, error) {
				return c.send(ctx, c.dir.NewOrder,
					[]byte(`{"protected":`+nested+`,"payload":"","signature":""}`))
			}},
			{"signed payload array", func() (*rawReply, error) {
				return c.post(ctx, c.dir.NewOrder, []byte(`{"identifiers":`+nested+`}`))
			}},
			{"signed payload object", func() (*rawReply, error) {
				return c.post(ctx, c.dir.NewOrder, []byte(`{"identifiers":[`+nestedObj+`]}`))
			}},
			{"protected header", func() (*rawReply, error) {
				n, err := c.nonce(ctx)
				if err != nil {
					return nil, err
				}
				hdr := fmt.Sprintf(`{"alg":"ES256","kid":%q,"nonce":%q,"url":%q,"x":%s}`,
					c.kid, n, c.dir.NewOrder, nested)
				return c.send(ctx, c.dir.NewOrder,
					[]byte(`{"protected":"`+b64([]byte(hdr))+`","payload":"","signature":"AA"}`))
			}},
		}
		for _, tc := range cases {
			r, err := tc.send()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			t.Logf("%s nested: %v", tc.name, r)
			wantProblemReply(t, r, "malformed", http.StatusBadRequest)
			if r.took > 10*time.Second {
				t.Errorf("%s: answered in %v, want an answer, not a hang (under 10s)", tc.name, r.took)
			}
		}
		wantNoOrders(t, ctx, c)
	})
}

// countingReader yields 'a' bytes up to limit and counts what was read.
type countingReader struct {
	limit int64
	read  atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	left := r.limit - r.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), left))
	for i := range n {
		p[i] = 'a'
	}
	r.read.Add(int64(n))
	return n, nil
}

// countOrders returns how many orders the account of c has, from its
// orders list (RFC 8555, Section 7.1.2.1).
func countOrders(t *testing.T, ctx context.Context, c *rawACME) int {
	t.Helper()
	r, err := c.post(ctx, c.kid, nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("POST-as-GET account: got %v, %v", r, err)
	}
	var acct struct {
		Orders string `json:"orders"`
	}
	if err := json.Unmarshal(r.body, &acct); err != nil || acct.Orders == "" {
		t.Fatalf("account object %q: %v, want an orders URL", r.body, err)
	}
	r, err = c.post(ctx, acct.Orders, nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("POST-as-GET orders: got %v, %v", r, err)
	}
	var list struct {
		Orders []string `json:"orders"`
	}
	if err := json.Unmarshal(r.body, &list); err != nil {
		t.Fatalf("orders list %q: %v", r.body, err)
	}
	return len(list.Orders)
}

// wantNoOrders fails unless the account of c has no order: the refused
// request changed nothing.
func wantNoOrders(t *testing.T, ctx context.Context, c *rawACME) {
	t.Helper()
	if c.kid == "" {
		return
	}
	if n := countOrders(t, ctx, c); n != 0 {
		t.Errorf("the account has %d orders after refused requests, want 0", n)
	}
}
