package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"

	"github.com/acmegate/acmegate/store"
	"github.com/acmegate/acmegate/store/storetest"
)

// balancerDialTimeout bounds one attempt to reach a backend.
const balancerDialTimeout = time.Second

// balancer is a TCP round-robin load balancer on loopback: each accepted
// connection is forwarded, bytes as they are (TLS passes through), to the
// next backend in turn. A backend that refuses the connection is skipped
// for the next one, as a health-checking balancer would after a crash.
type balancer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex
	backends []string
	next     int
	conns    map[net.Conn]struct{}
	served   map[string]int // connections forwarded, per backend
	closed   bool
}

// newBalancer listens on a free port of 127.0.0.1 with no backends yet
// (connections are closed until [balancer.setBackends]) and stops when the
// test ends.
func newBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("balancer: listening: %v", err)
	}
	b := &balancer{ln: ln, conns: map[net.Conn]struct{}{}, served: map[string]int{}}
	b.wg.Go(b.serve)
	t.Cleanup(b.close)
	return b
}

// Addr is the balancer's address, 127.0.0.1:port.
func (b *balancer) Addr() string { return b.ln.Addr().String() }

func (b *balancer) setBackends(addrs ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.backends = slices.Clone(addrs)
}

// servedCounts returns how many connections went to each backend so far.
func (b *balancer) servedCounts() map[string]int {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]int, len(b.served))
	for k, v := range b.served {
		out[k] = v
	}
	return out
}

func (b *balancer) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		if !b.track(c) {
			c.Close()
			return
		}
		b.wg.Go(func() { b.forward(c) })
	}
}

// track records c so close can cut it; it reports false once closed.
func (b *balancer) track(c net.Conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *balancer) untrack(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.conns, c)
}

// forward pipes client to the next live backend until either side closes.
func (b *balancer) forward(client net.Conn) {
	defer b.untrack(client)
	defer client.Close()
	backend, err := b.dial()
	if err != nil {
		return
	}
	if !b.track(backend) {
		backend.Close()
		return
	}
	defer b.untrack(backend)
	defer backend.Close()
	// HTTP/1.1 without keep-alive never half-closes: when one direction
	// ends, the exchange is over, so both sides are closed.
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	client.Close()
	backend.Close()
	<-done
}

// dial connects to the next backend in turn, trying each once.
func (b *balancer) dial() (net.Conn, error) {
	b.mu.Lock()
	addrs := slices.Clone(b.backends)
	start := b.next
	b.next++
	b.mu.Unlock()
	for i := range addrs {
		addr := addrs[(start+i)%len(addrs)]
		c, err := net.DialTimeout("tcp", addr, balancerDialTimeout)
		if err != nil {
			continue
		}
		b.mu.Lock()
		b.served[addr]++
		b.mu.Unlock()
		return c, nil
	}
	return nil, errors.New("balancer: no backend accepts connections")
}

func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	b.closed = true
	for c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// cluster is several `acmegate serve` replicas on one PostgreSQL database
// and one data folder (the CA files), behind a [balancer] whose address
// is every replica's external URL.
type cluster struct {
	t *testing.T
	// DBURL is the PostgreSQL URL of the cluster's fresh schema.
	DBURL string
	// Store is the test's own handle on the database.
	Store *store.Store
	// Replicas are the gateways; each keeps its own direct address.
	Replicas []*gateway
	LB       *balancer
	// ExternalURL is https://<balancer address>, the base of every URL.
	ExternalURL string
	// DirectoryURL is the directory through the balancer.
	DirectoryURL string
}

// startCluster starts n replicas on a fresh PostgreSQL schema behind a
// balancer, with extraYAML appended to their shared configuration. The
// first replica runs the development ceremony in its data folder; the
// others serve from that same folder. It skips the test when
// ACMEGATE_TEST_POSTGRES is not set.
func startCluster(t *testing.T, n int, extraYAML string) *cluster {
	t.Helper()
	c := &cluster{t: t, DBURL: storetest.URL(t, store.Postgres), LB: newBalancer(t)}
	c.ExternalURL = "https://" + c.LB.Addr()
	c.DirectoryURL = c.ExternalURL + "/acme/directory"
	yaml := fmt.Sprintf("db: %q\nexternal_url: %q\n", c.DBURL, c.ExternalURL) + extraYAML

	began := time.Now()
	first := startGateway(t, withConfig(yaml), withDataDir(newDataDir(t)))
	c.Replicas = append(c.Replicas, first)
	for range n - 1 {
		c.Replicas = append(c.Replicas, startGateway(t, withConfig(yaml), withDataDir(first.DataDir)))
	}
	t.Logf("started %d replicas in %v", n, time.Since(began).Round(time.Millisecond))
	// The data folder is shared: with a server database, nothing in it may
	// belong to one process.
	if _, err := os.Stat(filepath.Join(first.DataDir, "acmegate.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("SQLite file in the shared data folder: got stat error %v, want none created", err)
	}
	var addrs []string
	for _, g := range c.Replicas {
		addrs = append(addrs, g.Addr)
	}
	c.LB.setBackends(addrs...)
	c.Store = openStore(t, c.DBURL)
	return c
}

// Root is the root certificate every replica chains to.
func (c *cluster) Root() *x509.Certificate { return c.Replicas[0].Root }

// HTTPClient returns a client that trusts root.pem and opens a new
// connection for every request, so that the balancer spreads a client's
// requests over the replicas.
func (c *cluster) HTTPClient() *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			TLSClientConfig:       &tls.Config{RootCAs: c.Replicas[0].RootPool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 30 * time.Second,
		},
	}
}

// verifyLeaf checks a downloaded chain quickly: a leaf and the
// intermediate, verifying to root.pem, for exactly names as DNS SANs. It
// returns the leaf. [checkChainPEM] checks more, zlint included, which is
// slow under -race: one full check per test is enough.
func (c *cluster) verifyLeaf(t *testing.T, chainPEM []byte, names []string) *x509.Certificate {
	t.Helper()
	certs, err := parsePEMCertificates(chainPEM)
	if err != nil || len(certs) != 2 {
		t.Fatalf("certificate download for %q: got %d certificates (%v), want leaf and intermediate",
			names, len(certs), err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(certs[1])
	_, err = certs[0].Verify(x509.VerifyOptions{Roots: c.Replicas[0].RootPool, Intermediates: inter})
	if err != nil {
		t.Errorf("certificate for %q: verifying to root.pem: %v", names, err)
	}
	if !slices.Equal(certs[0].DNSNames, names) {
		t.Errorf("certificate DNS SANs: got %q, want %q", certs[0].DNSNames, names)
	}
	return certs[0]
}

// pointAt makes names resolve to 127.0.0.1 on every replica's resolver.
func (c *cluster) pointAt(names ...string) {
	for _, g := range c.Replicas {
		pointAt(g, names...)
	}
}

// replicaOf returns the index of the replica whose start-up log names
// holder as its replica ID, or -1.
func (c *cluster) replicaOf(holder string) int {
	for i, g := range c.Replicas {
		if holder != "" && strings.Contains(g.output.String(), "replica="+holder+" ") {
			return i
		}
	}
	return -1
}

// fanHTTP01 publishes http-01 key authorizations on every replica's
// responder: whichever replica receives the challenge POST validates.
type fanHTTP01 []http01Provider

func (f fanHTTP01) Present(domain, token, keyAuth string) error {
	for _, p := range f {
		_ = p.Present(domain, token, keyAuth)
	}
	return nil
}

func (f fanHTTP01) CleanUp(domain, token, keyAuth string) error {
	for _, p := range f {
		_ = p.CleanUp(domain, token, keyAuth)
	}
	return nil
}

// fanDNS01 publishes dns-01 TXT records on every replica's resolver.
type fanDNS01 []*dns01Provider

func (f fanDNS01) Present(domain, token, keyAuth string) error {
	for _, p := range f {
		_ = p.Present(domain, token, keyAuth)
	}
	return nil
}

func (f fanDNS01) CleanUp(domain, token, keyAuth string) error {
	for _, p := range f {
		_ = p.CleanUp(domain, token, keyAuth)
	}
	return nil
}

func (f fanDNS01) Timeout() (timeout, interval time.Duration) { return f[0].Timeout() }

// legoClient returns a lego client registered through the balancer with a
// fresh P-256 key, solving challengeType on every replica's responders. It
// returns errors instead of failing the test, for use in goroutines.
func (c *cluster) legoClient(challengeType string) (*lego.Client, error) {
	key, err := newECKey()
	if err != nil {
		return nil, err
	}
	user := &legoUser{key: key}
	cfg := lego.NewConfig(user)
	cfg.CADirURL = c.DirectoryURL
	cfg.HTTPClient = c.HTTPClient()
	cfg.UserAgent = "acmegate-integration"
	cfg.Certificate.KeyType = certcrypto.EC256
	cfg.Certificate.Timeout = 30 * time.Second
	client, err := lego.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("lego.NewClient: %w", err)
	}
	switch challengeType {
	case challHTTP01:
		var fan fanHTTP01
		for _, g := range c.Replicas {
			fan = append(fan, http01Provider{g.HTTP01})
		}
		err = client.Challenge.SetHTTP01Provider(fan)
	case challDNS01:
		var fan fanDNS01
		for _, g := range c.Replicas {
			fan = append(fan, newDNS01Provider(g.DNS))
		}
		err = client.Challenge.SetDNS01Provider(fan,
			dns01.DisableAuthoritativeNssPropagationRequirement(),
			txtPropagated(c.Replicas[0].DNS.Addr()))
	default:
		err = fmt.Errorf("unsupported challenge type %q", challengeType)
	}
	if err != nil {
		return nil, err
	}
	reg, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		return nil, fmt.Errorf("registering: %w", err)
	}
	user.reg = reg
	return client, nil
}

// waitFor polls cond every 100ms until it returns true or timeout passes,
// and reports whether it did.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-tick.C:
		}
	}
}
