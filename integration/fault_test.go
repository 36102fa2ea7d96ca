package integration

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver that holds the lock

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

const (
	// sqliteBusyTimeout is the gateway's SQLite busy timeout (the store's
	// default): how long a writer waits for the lock before failing.
	sqliteBusyTimeout = 10 * time.Second
	// faultMargin is how much longer than the dependency's own timeout a
	// request may take before the test calls it a hang.
	faultMargin = 3 * time.Second
	// faultRecovery bounds the time from a dependency's return to the
	// first successful request, without a restart (SECURITY-CATALOGUE J6).
	faultRecovery = 10 * time.Second
)

// wantUnavailable fails unless r is the answer to a request made while the
// database was unreachable: 503 serverInternal with a Retry-After of at
// least one second (500 is accepted but reported), and a fresh nonce.
func wantUnavailable(t *testing.T, r *rawReply) {
	t.Helper()
	if r.status == http.StatusInternalServerError {
		t.Errorf("got 500 for a database outage, want 503 with Retry-After (%v)", r)
		wantProblemReply(t, r, "serverInternal", http.StatusInternalServerError)
		return
	}
	wantProblemReply(t, r, "serverInternal", http.StatusServiceUnavailable)
	if n := retryAfterSeconds(r); n < 1 {
		t.Errorf("%d answer: got Retry-After %q, want a number of seconds ≥ 1",
			r.status, r.header.Get("Retry-After"))
	}
}

// sqliteLock holds SQLite's write lock on a database from the test
// process, as another writer (a backup tool, a stuck admin command) would.
type sqliteLock struct {
	db   *sql.DB
	conn *sql.Conn
}

func lockSQLite(t *testing.T, dbPath string) *sqliteLock {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?_busy_timeout=5000")
	if err != nil {
		t.Fatalf("opening %s: %v", dbPath, err)
	}
	conn, err := db.Conn(t.Context())
	if err != nil {
		db.Close()
		t.Fatalf("connecting to %s: %v", dbPath, err)
	}
	if _, err := conn.ExecContext(t.Context(), "BEGIN EXCLUSIVE"); err != nil {
		conn.Close()
		db.Close()
		t.Fatalf("BEGIN EXCLUSIVE on %s: %v", dbPath, err)
	}
	l := &sqliteLock{db: db, conn: conn}
	t.Cleanup(l.release)
	return l
}

// release ends the transaction; it may be called more than once.
func (l *sqliteLock) release() {
	if l.conn == nil {
		return
	}
	_, _ = l.conn.ExecContext(context.Background(), "ROLLBACK")
	l.conn.Close()
	l.db.Close()
	l.conn = nil
}

// TestFaultSQLiteLocked holds SQLite's write lock for longer than the busy
// timeout while a client keeps sending requests (SECURITY-CATALOGUE J4,
// J6): requests fail with serverInternal instead of hanging, and once the
// lock is gone the same process serves again.
func TestFaultSQLiteLocked(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withDataDir(newDataDir(t)))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := newRawACME(t, g)
	c.register(ctx)
	if r, err := c.newOrder(ctx, "before.lock.test.internal"); err != nil || r.status != http.StatusCreated {
		t.Fatalf("new-order before the lock: got %v, %v; want 201", r, err)
	}
	pid := g.proc.cmd.Process.Pid

	// Hold the lock past one busy timeout: the first request waits it out
	// and fails; those queued behind it succeed once the lock is gone.
	const hold = sqliteBusyTimeout + 2*time.Second
	lock := lockSQLite(t, filepath.Join(g.DataDir, "acmegate.db"))
	locked := time.Now()
	type result struct {
		sent  time.Duration // since the lock was taken
		reply *rawReply
		err   error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	for i := 0; time.Since(locked) < hold-time.Second; i++ {
		sent := time.Since(locked)
		wg.Go(func() {
			r, err := c.newOrder(ctx, fmt.Sprintf("locked-%d.lock.test.internal", i))
			mu.Lock()
			defer mu.Unlock()
			results = append(results, result{sent: sent, reply: r, err: err})
		})
		time.Sleep(time.Second)
	}
	time.Sleep(time.Until(locked.Add(hold)))
	lock.release()
	released := time.Since(locked)
	wg.Wait()

	failed := 0
	var longest time.Duration
	for _, res := range results {
		if res.err != nil {
			t.Errorf("request sent %v into the lock: %v, want an HTTP answer", res.sent.Round(time.Millisecond), res.err)
			continue
		}
		r := res.reply
		answered := res.sent + r.took
		longest = max(longest, r.took)
		t.Logf("request sent at %v: %v", res.sent.Round(time.Millisecond), r)
		if r.took > sqliteBusyTimeout+faultMargin {
			t.Errorf("request sent at %v took %v, want at most the busy timeout %v plus %v",
				res.sent.Round(time.Millisecond), r.took.Round(time.Millisecond), sqliteBusyTimeout, faultMargin)
		}
		switch {
		case r.status == http.StatusCreated && answered < released:
			t.Errorf("request sent at %v succeeded at %v while the database was locked (until %v)",
				res.sent, answered, released)
		case r.status == http.StatusCreated:
		default:
			failed++
			wantUnavailable(t, r)
		}
	}
	if failed == 0 {
		t.Errorf("no request failed while the lock was held for %v, longer than the busy timeout %v", hold, sqliteBusyTimeout)
	}

	r, err := c.newOrder(ctx, "after.lock.test.internal")
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("new-order after the lock: got %v, %v; want 201", r, err)
	}
	// A generous bound: this checks that the gateway serves again without
	// a restart, not how fast; the machine may be loaded.
	if r.took > 10*time.Second {
		t.Errorf("new-order after the lock took %v, want it served again (under 10s)", r.took)
	}
	if g.proc.exited() || g.proc.cmd.Process.Pid != pid {
		t.Errorf("the gateway process changed or exited during the lock, want the same process serving")
	}
	t.Logf("fault figures: sqlite write lock held %v; %d requests, %d answered 503 after the busy timeout, "+
		"the others 201 once the lock was gone; longest wait %v; first request after release %v",
		hold, len(results), failed, longest.Round(time.Millisecond), r.took.Round(time.Millisecond))
}

// tcpProxy forwards loopback TCP connections to a target and can cut them
// all, as a database outage or a network partition would.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// startTCPProxy listens on a free port of 127.0.0.1 and forwards to
// target until the test ends.
func startTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
		p.wg.Wait()
	})
	return p
}

// Addr is the proxy's listen address.
func (p *tcpProxy) Addr() string { return p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// forward copies both ways until either side closes or the proxy goes
// down; a connection accepted while down is closed at once.
func (p *tcpProxy) forward(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, up) {
		c.Close()
		up.Close()
		return
	}
	var pair sync.WaitGroup
	pair.Go(func() {
		_, _ = io.Copy(up, c)
		up.Close()
		c.Close()
	})
	pair.Go(func() {
		_, _ = io.Copy(c, up)
		up.Close()
		c.Close()
	})
	pair.Wait()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

func (p *tcpProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	for _, c := range conns {
		p.conns[c] = struct{}{}
	}
	return true
}

// setDown cuts every open connection and refuses new ones (down), or lets
// connections through again.
func (p *tcpProxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

// readyz returns the status of GET /readyz.
func readyz(ctx context.Context, g *gateway) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+g.Addr+"/readyz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := g.HTTPClient().Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// TestFaultPostgresOutage runs the gateway on PostgreSQL through a TCP
// proxy and cuts the proxy for a few seconds (SECURITY-CATALOGUE J6):
// requests fail fast with 503 serverInternal and Retry-After, readiness
// turns false, and service returns without a restart when the proxy does.
func TestFaultPostgresOutage(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(storetest.URL(t, store.Postgres)) // skips without ACMEGATE_TEST_POSTGRES
	if err != nil {
		t.Fatal(err)
	}
	proxy := startTCPProxy(t, u.Host)
	u.Host = proxy.Addr()
	g := startGateway(t, withDataDir(newDataDir(t)), withConfig(fmt.Sprintf("db: %q\n", u.String())))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	c := newRawACME(t, g)
	c.register(ctx)
	if r, err := c.newOrder(ctx, "before.pg.test.internal"); err != nil || r.status != http.StatusCreated {
		t.Fatalf("new-order before the outage: got %v, %v; want 201", r, err)
	}
	pid := g.proc.cmd.Process.Pid

	const outage = 3 * time.Second
	proxy.setDown(true)
	cut := time.Now()
	var slowest time.Duration
	n := 0
	for ; time.Since(cut) < outage; n++ {
		r, err := c.newOrder(ctx, fmt.Sprintf("down-%d.pg.test.internal", n))
		if err != nil {
			t.Fatalf("new-order during the outage: %v, want an HTTP answer", err)
		}
		slowest = max(slowest, r.took)
		if r.took > time.Second+faultMargin {
			t.Errorf("new-order during the outage took %v, want a fast failure", r.took)
		}
		wantUnavailable(t, r)
		time.Sleep(200 * time.Millisecond)
	}
	if status, err := readyz(ctx, g); err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz during the outage: got %d, %v; want 503", status, err)
	}

	proxy.setDown(false)
	back := time.Now()
	var r *rawReply
	for {
		r, err = c.newOrder(ctx, "after.pg.test.internal")
		if err == nil && r.status == http.StatusCreated {
			break
		}
		if time.Since(back) > faultRecovery {
			t.Fatalf("new-order %v after the database returned: got %v, %v; want 201", faultRecovery, r, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	recovered := time.Since(back)
	if status, err := readyz(ctx, g); err != nil || status != http.StatusOK {
		t.Errorf("GET /readyz after the outage: got %d, %v; want 200", status, err)
	}
	if g.proc.exited() || g.proc.cmd.Process.Pid != pid {
		t.Errorf("the gateway process changed or exited during the outage, want the same process serving")
	}
	t.Logf("fault figures: postgres cut for %v, %d requests all failed, slowest %v; service back %v after the database",
		outage, n, slowest.Round(time.Millisecond), recovered.Round(time.Millisecond))
}

// TestFaultGracefulShutdown sends SIGTERM while an http-01 validation is
// waiting on a slow responder (SECURITY-CATALOGUE J2): the gateway answers
// the request in flight, finishes the validation, exits 0 within its grace
// period, and leaves no challenge processing.
func TestFaultGracefulShutdown(t *testing.T) {
	t.Parallel()
	const (
		grace = 8 * time.Second
		delay = 2 * time.Second
	)
	g := startGateway(t, withDataDir(newDataDir(t)),
		withConfig(fmt.Sprintf("acme:\n  shutdown_grace: %s\n", grace)))
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	name := "slow.shutdown.test.internal"
	client, _, chal, keyAuth := pendingHTTP01(t, ctx, g, name)
	hit := make(chan struct{})
	var once sync.Once
	g.HTTP01.Handle("/.well-known/acme-challenge/"+chal.Token, http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			once.Do(func() { close(hit) })
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
			_, _ = io.WriteString(w, keyAuth)
		}))

	accepted := make(chan error, 1)
	go func() {
		_, err := client.Accept(ctx, chal)
		accepted <- err
	}()
	select {
	case <-hit:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not start the http-01 validation within 30s")
	}

	start := time.Now()
	err := g.terminate()
	took := time.Since(start)
	if err != nil {
		t.Errorf("SIGTERM during a validation: %v", err)
	}
	if took > grace {
		t.Errorf("the gateway took %v to exit, want at most its grace period %v", took, grace)
	}
	if err := <-accepted; err != nil {
		t.Errorf("the challenge request in flight at SIGTERM: %v, want an answer", err)
	}

	st, err := store.Open(ctx, store.Options{URL: "sqlite://" + filepath.Join(g.DataDir, "acmegate.db")})
	if err != nil {
		t.Fatalf("opening the database after shutdown: %v", err)
	}
	defer st.Close()
	row, err := st.Read(ctx).Challenge(path.Base(chal.URI))
	if err != nil {
		t.Fatalf("loading the challenge: %v", err)
	}
	if row.Status != "valid" && row.Status != "invalid" {
		t.Errorf("challenge after shutdown: got status %q, want valid or invalid", row.Status)
	}
	authz, err := st.Read(ctx).Authorization(row.AuthzID)
	if err != nil {
		t.Fatalf("loading the authorization: %v", err)
	}
	if authz.Status == "pending" {
		t.Errorf("authorization after shutdown: got %q, want it decided", authz.Status)
	}
	t.Logf("fault figures: SIGTERM during a %v http-01 validation; exit 0 after %v; challenge %s, authorization %s",
		delay, took.Round(time.Millisecond), row.Status, authz.Status)
}
