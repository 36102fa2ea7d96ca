package integration

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
	"golang.org/x/crypto/acme"

	"github.com/acmegate/acmegate/store"
)

// replicaConfig makes the background upkeep quick enough to watch within a
// test: the lease is claimed every second (and lapses after two), and an
// order processing for 3 seconds counts as interrupted.
const replicaConfig = `acme:
  upkeep_interval: 1s
  recover_after: 3s
`

// TestReplicas runs three gateways on one PostgreSQL database and one data
// folder behind a TCP round-robin balancer, every client opening a new
// connection per request, so that consecutive requests of one ACME flow
// land on different replicas. The subtests share the cluster; the last
// one kills a replica.
//
// SECURITY-CATALOGUE J5: replicas on one PostgreSQL database keep the invariants.
func TestReplicas(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3, replicaConfig)

	t.Run("concurrent clients", func(t *testing.T) { testConcurrentClients(t, c) })
	t.Run("nonce across replicas", func(t *testing.T) { testNonceAcrossReplicas(t, c) })
	t.Run("simultaneous finalize", func(t *testing.T) { testSimultaneousFinalize(t, c) })
	t.Run("kill a replica", func(t *testing.T) { testKillReplica(t, c) })

	// One hash chain, whichever replica wrote each event.
	auditVerify(t, c.DBURL)
}

// testConcurrentClients runs 8 lego clients at once through the balancer,
// each obtaining 3 certificates, half over http-01 and half over dns-01.
func testConcurrentClients(t *testing.T, c *cluster) {
	const clients, perClient = 8, 3
	names := func(i, j int) []string {
		return []string{fmt.Sprintf("c%d-%d.replicas.test.internal", i, j)}
	}
	for i := range clients {
		for j := range perClient {
			c.pointAt(names(i, j)...)
		}
	}
	before := c.LB.servedCounts()
	start := time.Now()

	results := make([][]*certificate.Resource, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			typ := challHTTP01
			if i%2 == 1 {
				typ = challDNS01
			}
			client, err := c.legoClient(typ)
			if err != nil {
				errs[i] = err
				return
			}
			for j := range perClient {
				res, err := client.Certificate.Obtain(certificate.ObtainRequest{
					Domains: names(i, j), Bundle: true})
				if err != nil {
					errs[i] = fmt.Errorf("Obtain(%q): %w", names(i, j), err)
					return
				}
				results[i] = append(results[i], res)
			}
		})
	}
	wg.Wait()
	t.Logf("%d clients obtained %d certificates each in %v", clients, perClient,
		time.Since(start).Round(time.Millisecond))

	for i, err := range errs {
		if err != nil {
			t.Errorf("client %d: %v", i, err)
		}
	}
	for i := range results {
		for j, res := range results[i] {
			var leaf *x509.Certificate
			if i == 0 && j == 0 {
				leaf = checkChainPEM(t, c.Replicas[0], res.Certificate, start,
					wantCert{identifiers: names(i, j)})
			} else {
				leaf = c.verifyLeaf(t, res.Certificate, names(i, j))
			}
			storedCertificate(t, c.Store, leaf)
		}
	}
	after := c.LB.servedCounts()
	for i, g := range c.Replicas {
		n := after[g.Addr] - before[g.Addr]
		t.Logf("replica %d (%s) served %d connections", i, g.Addr, n)
		if n == 0 {
			t.Errorf("replica %d served no connection, want the balancer to spread them", i)
		}
	}
}

// testNonceAcrossReplicas checks that a nonce from one replica is good once
// at any other, and that 50 requests carrying one nonce to all replicas at
// once get it accepted exactly once (RFC 8555, Section 6.5).
func testNonceAcrossReplicas(t *testing.T, c *cluster) {
	a := c.newJWSAccount(t)
	addrA, addrB, addrC := c.Replicas[0].Addr, c.Replicas[1].Addr, c.Replicas[2].Addr

	// 1. A's nonce, sent straight to B with the external URL in the JWS.
	n := a.mustNonce(t, addrA)
	a.mustPost(t, addrB, a.KID, n, nil).want(t, "A's nonce at B", http.StatusOK, "")
	for i, addr := range []string{addrA, addrB, addrC} {
		a.mustPost(t, addr, a.KID, n, nil).want(t, fmt.Sprintf("replay at replica %d", i),
			http.StatusBadRequest, "badNonce")
	}

	// 2. Each replica checks the url against the external URL, not the
	// address it was reached at, and before redeeming the nonce: the
	// refused request leaves the nonce usable.
	n = a.mustNonce(t, addrB)
	direct := "https://" + addrB + strings.TrimPrefix(a.KID, c.ExternalURL)
	a.mustPost(t, addrB, direct, n, nil).want(t, "url naming B's own address",
		http.StatusBadRequest, "malformed")
	a.mustPost(t, addrC, a.KID, n, nil).want(t, "nonce after a refused url", http.StatusOK, "")

	// 3. One nonce, 50 requests to all replicas at once.
	n = a.mustNonce(t, addrC)
	const requests = 50
	resps := make([]*rawResponse, requests)
	errs := make([]error, requests)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range requests {
		wg.Go(func() {
			<-gate
			resps[i], errs[i] = a.post(t.Context(), c.Replicas[i%len(c.Replicas)].Addr, a.KID, n, nil)
		})
	}
	close(gate)
	wg.Wait()
	accepted := 0
	for i, r := range resps {
		switch {
		case errs[i] != nil:
			t.Errorf("request %d: %v", i, errs[i])
		case r.Status == http.StatusOK:
			accepted++
		default:
			r.want(t, fmt.Sprintf("request %d", i), http.StatusBadRequest, "badNonce")
		}
	}
	if accepted != 1 {
		t.Errorf("one nonce in %d concurrent requests: got %d accepted, want exactly 1", requests, accepted)
	}
}

// testSimultaneousFinalize finalizes one ready order from 6 requests sent
// to all replicas at once: one moves it to processing, the others get
// orderNotReady, and exactly one certificate is signed and stored.
func testSimultaneousFinalize(t *testing.T, c *cluster) {
	a := c.newJWSAccount(t)
	names := []string{"finalize.replicas.test.internal"}
	order := a.readyOrder(t, c, names...)
	payload := finalizePayload(newCSR(t, newKey(t), names))

	const racers = 6
	nonces := make([]string, racers)
	for i := range nonces {
		nonces[i] = a.mustNonce(t, c.Replicas[i%len(c.Replicas)].Addr)
	}
	resps := make([]*rawResponse, racers)
	errs := make([]error, racers)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-gate
			resps[i], errs[i] = a.post(t.Context(), c.Replicas[i%len(c.Replicas)].Addr,
				order.FinalizeURL, nonces[i], payload)
		})
	}
	close(gate)
	wg.Wait()
	won := 0
	for i, r := range resps {
		switch {
		case errs[i] != nil:
			t.Errorf("finalize %d: %v", i, errs[i])
		case r.Status == http.StatusOK:
			won++
		default:
			r.want(t, fmt.Sprintf("finalize %d", i), http.StatusForbidden, "orderNotReady")
		}
	}
	if won != 1 {
		t.Errorf("concurrent finalizes: got %d accepted, want exactly 1", won)
	}

	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	valid, err := a.ACME.WaitOrder(ctx, order.URI)
	if err != nil {
		t.Fatalf("WaitOrder until valid: %v", err)
	}
	id := orderID(order.URI)
	for _, m := range []any{&store.Certificate{}, &store.SerialReservation{}} {
		if n := countRows(t, c.Store, m, "order_id = ?", id); n != 1 {
			t.Errorf("%T rows of the order: got %d, want 1", m, n)
		}
	}
	chain, err := a.ACME.FetchCert(ctx, valid.CertURL, true)
	if err != nil {
		t.Fatalf("FetchCert: %v", err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatalf("parsing the certificate: %v", err)
	}
	storedCertificate(t, c.Store, leaf)
}

// countRows counts the rows of model's table matching the condition.
func countRows(t *testing.T, st *store.Store, model any, cond string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := st.DB().WithContext(t.Context()).Model(model).Where(cond, args...).Count(&n).Error; err != nil {
		t.Fatalf("counting %T rows: %v", model, err)
	}
	return n
}

// upkeepHolder returns the current holder of the upkeep lease, or "".
func upkeepHolder(ctx context.Context, st *store.Store) string {
	var l store.Lease
	err := st.DB().WithContext(ctx).Where("name = ? AND expires_at > ?", "upkeep", time.Now().UTC()).
		Limit(1).Find(&l).Error
	if err != nil {
		return ""
	}
	return l.Holder
}

// obtained is one certificate a client received.
type obtained struct {
	names []string
	pem   []byte
}

// legoWorker obtains certificates through the balancer until stop is
// closed and it has finished an Obtain started after the kill, retrying
// an Obtain that fails (a request cut by the crash), at most
// [workerMaxAttempts] times in all. Its results are read once run has
// returned.
type legoWorker struct {
	id       int
	c        *cluster
	killedAt *atomic.Int64 // unix nanoseconds; zero before the kill
	// started is done once the worker has its first certificate or has
	// given up.
	started *sync.WaitGroup

	certs     []obtained
	failures  []error
	afterKill int // certificates from Obtain calls started after the kill
}

// workerMaxAttempts bounds the Obtain calls of one [legoWorker].
const workerMaxAttempts = 15

func workerNames(w, attempt int) []string {
	return []string{fmt.Sprintf("k%d-%d.replicas.test.internal", w, attempt)}
}

func (w *legoWorker) run(stop <-chan struct{}) {
	startedOnce := sync.OnceFunc(w.started.Done)
	defer startedOnce()
	client, err := w.c.legoClient(challHTTP01)
	if err != nil {
		w.failures = append(w.failures, err)
		return
	}
	for attempt := range workerMaxAttempts {
		select {
		case <-stop:
			if w.afterKill > 0 {
				return
			}
		default:
		}
		if len(w.certs) > 0 {
			// Pacing: the point is to be busy across the crash, not to
			// load the machine.
			time.Sleep(250 * time.Millisecond)
		}
		startedAfterKill := w.killedAt.Load() != 0
		names := workerNames(w.id, attempt)
		res, err := client.Certificate.Obtain(certificate.ObtainRequest{Domains: names, Bundle: true})
		if err != nil {
			w.failures = append(w.failures, fmt.Errorf("Obtain(%q): %w", names, err))
			continue
		}
		w.certs = append(w.certs, obtained{names: names, pem: res.Certificate})
		startedOnce()
		if startedAfterKill {
			w.afterKill++
		}
	}
}

// testKillReplica kills (SIGKILL) the replica holding the upkeep lease
// while lego clients keep obtaining certificates through the balancer and
// while two of its orders are processing, their certificate writes stalled
// by a table lock. The balancer skips the dead replica; the lease passes
// to a live replica, whose recovery completes the stuck orders; every
// certificate a client received is in the database and no order stays
// processing.
func testKillReplica(t *testing.T, c *cluster) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*flowTimeout)
	defer cancel()
	began := time.Now()
	elapsed := func() time.Duration { return time.Since(began).Round(time.Millisecond) }

	// 1. The victim is the replica running upkeep.
	var holder string
	waitFor(ctx, 5*time.Second, func() bool { holder = upkeepHolder(ctx, c.Store); return holder != "" })
	victimIdx := c.replicaOf(holder)
	if victimIdx < 0 {
		t.Fatalf("upkeep lease holder %q is none of the replicas", holder)
	}
	victim := c.Replicas[victimIdx]
	t.Logf("replica %d holds the upkeep lease as %s", victimIdx, holder)

	// 2. Clients keep working throughout.
	const workers = 3
	for w := range workers {
		for attempt := range workerMaxAttempts {
			c.pointAt(workerNames(w, attempt)...)
		}
	}
	var killedAt atomic.Int64
	stop := make(chan struct{})
	pool := make([]*legoWorker, workers)
	var wg, started sync.WaitGroup
	started.Add(workers)
	for i := range pool {
		pool[i] = &legoWorker{id: i, c: c, killedAt: &killedAt, started: &started}
		wg.Go(func() { pool[i].run(stop) })
	}
	stopWorkers := sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	defer stopWorkers()
	ready := make(chan struct{})
	go func() {
		started.Wait()
		close(ready)
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatalf("the clients got no first certificate before the deadline")
	}
	t.Logf("%v: every client has a first certificate", elapsed())

	// 3. Two orders finalized at the victim, whose issuance then hangs on
	// the certificates table until the crash.
	a := c.newJWSAccount(t)
	var orders []*acme.Order
	for i := range 2 {
		orders = append(orders, a.readyOrder(t, c, fmt.Sprintf("stuck-%d.replicas.test.internal", i)))
	}
	release := lockCertificates(t, c.Store)
	var finalizes sync.WaitGroup
	for _, o := range orders {
		n := a.mustNonce(t, victim.Addr)
		payload := finalizePayload(newCSR(t, newKey(t), []string{o.Identifiers[0].Value}))
		finalizes.Go(func() {
			// The crash cuts the request; the order is what matters.
			_, _ = a.post(context.WithoutCancel(ctx), victim.Addr, o.FinalizeURL, n, payload)
		})
	}
	processing := waitFor(ctx, 10*time.Second, func() bool {
		for _, o := range orders {
			var row store.Order
			if c.Store.DB().WithContext(ctx).Where("id = ?", orderID(o.URI)).Take(&row).Error != nil ||
				row.Status != "processing" {
				return false
			}
		}
		return true
	})
	if !processing {
		release()
		t.Fatalf("the victim's orders did not reach processing within 10s")
	}

	// 4. The crash, with issuance in flight.
	victim.Kill()
	killedAt.Store(time.Now().UnixNano())
	release()
	finalizes.Wait()
	t.Logf("%v: killed replica %d (%s)", elapsed(), victimIdx, victim.Addr)

	// 5. The lease moves to a live replica.
	var next string
	moved := waitFor(ctx, 15*time.Second, func() bool {
		next = upkeepHolder(ctx, c.Store)
		i := c.replicaOf(next)
		return i >= 0 && i != victimIdx
	})
	if !moved {
		t.Fatalf("upkeep lease: got holder %q 15s after the kill, want a live replica", next)
	}
	t.Logf("%v: replica %d took the upkeep lease as %s", elapsed(), c.replicaOf(next), next)

	// 6. Recovery completes the stuck orders; their client gets the
	// certificates through the balancer.
	var received []*x509.Certificate
	for _, o := range orders {
		octx, ocancel := context.WithTimeout(ctx, 30*time.Second)
		valid, err := a.ACME.WaitOrder(octx, o.URI)
		ocancel()
		if err != nil {
			t.Errorf("order %s after the crash: %v", orderID(o.URI), err)
			continue
		}
		chain, err := a.ACME.FetchCert(ctx, valid.CertURL, true)
		if err != nil {
			t.Errorf("FetchCert of order %s: %v", orderID(o.URI), err)
			continue
		}
		leaf, err := x509.ParseCertificate(chain[0])
		if err != nil {
			t.Fatalf("parsing the certificate: %v", err)
		}
		received = append(received, leaf)
	}
	t.Logf("%v: the stuck orders are valid", elapsed())
	recovered := false
	for i, g := range c.Replicas {
		if i != victimIdx && strings.Contains(g.output.String(), "recovered interrupted issuance") {
			recovered = true
		}
	}
	if !recovered {
		t.Errorf("no surviving replica logged a recovery of interrupted issuance")
	}

	// 7. The clients finish; each must have completed a certificate
	// started after the kill.
	stopWorkers()
	t.Logf("%v: the clients stopped", elapsed())
	for _, w := range pool {
		for _, err := range w.failures {
			t.Logf("worker %d: %v", w.id, err)
		}
		if w.afterKill == 0 {
			t.Errorf("worker %d: got no certificate from an Obtain started after the kill "+
				"(%d before, %d failures)", w.id, len(w.certs), len(w.failures))
		}
		for _, got := range w.certs {
			received = append(received, c.verifyLeaf(t, got.pem, got.names))
		}
	}

	// 8. Nothing lost: every certificate received is stored, every
	// stored certificate has its reserved serial, and no order is left
	// processing.
	for _, leaf := range received {
		storedCertificate(t, c.Store, leaf)
	}
	t.Logf("%d certificates received across the crash, all stored", len(received))
	var unreserved int64
	err := c.Store.DB().WithContext(ctx).Raw(`SELECT count(*) FROM certificates c
		WHERE NOT EXISTS (SELECT 1 FROM serial_reservations r WHERE r.serial = c.serial)`).
		Scan(&unreserved).Error
	if err != nil || unreserved != 0 {
		t.Errorf("certificates without a serial reservation: got %d (%v), want 0", unreserved, err)
	}
	settled := waitFor(ctx, 15*time.Second, func() bool {
		return countRows(t, c.Store, &store.Order{}, "status = ?", "processing") == 0
	})
	if !settled {
		t.Errorf("orders still processing 15s after the crash: got %d, want 0",
			countRows(t, c.Store, &store.Order{}, "status = ?", "processing"))
	}
}

// lockCertificates takes an exclusive lock on the certificates table of a
// PostgreSQL database, so that every issuance blocks on storing its
// certificate, and returns the function that releases it.
func lockCertificates(t *testing.T, st *store.Store) func() {
	t.Helper()
	sqlDB, err := st.DB().DB()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sqlDB.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatalf("beginning the lock transaction: %v", err)
	}
	if _, err := tx.ExecContext(t.Context(), "LOCK TABLE certificates IN EXCLUSIVE MODE"); err != nil {
		_ = tx.Rollback()
		t.Fatalf("locking the certificates table: %v", err)
	}
	var once sync.Once
	release := func() { once.Do(func() { _ = tx.Rollback() }) }
	t.Cleanup(release)
	return release
}
