package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" driver for read-only checks
	"golang.org/x/crypto/acme"

	"github.com/acmegate/acmegate/store"
)

// crashPlan is one run of the kill -9 test (SECURITY-CATALOGUE J1, J2).
type crashPlan struct {
	// kills is how many times the gateway is killed with SIGKILL.
	kills int
	// workers is how many ACME clients obtain certificates meanwhile.
	workers int
	// minUp and maxUp bound the random time the gateway runs between a
	// restart and the next kill.
	minUp, maxUp time.Duration
}

const (
	// crashRecoverAfter is acme.recover_after in the crash tests.
	crashRecoverAfter = time.Second
	// crashUpkeepInterval is acme.upkeep_interval in the crash tests: how
	// often recovery runs, on the replica holding the upkeep lease.
	crashUpkeepInterval = time.Second
	// crashValidationTimeout is challenges.timeout in the crash tests.
	crashValidationTimeout = 3 * time.Second
	// crashCertDeadline bounds one client's attempts at one certificate.
	crashCertDeadline = 45 * time.Second
	// crashStepTimeout bounds one step (one request or one wait) of it.
	crashStepTimeout = 10 * time.Second
	// crashMaxSteps bounds the steps spent on one certificate.
	crashMaxSteps = 60
	// crashRecoveryWait bounds the wait for recovery after the last kill.
	crashRecoveryWait = 20 * time.Second
)

// TestCrashRecovery kills the gateway with SIGKILL at random moments while
// clients obtain certificates, restarts it on the same data folder each
// time, and then checks that nothing a client received was lost and that
// the database holds no half-done issuance. It runs 20 kills, 3 with
// -short; TestCrashRecoveryLong runs as many as ACMEGATE_CRASH_KILLS asks.
//
// SECURITY-CATALOGUE H3: every certificate a client received is in the
// inventory, so none exists that could not be revoked.
func TestCrashRecovery(t *testing.T) {
	plan := crashPlan{kills: 20, workers: 4, minUp: 300 * time.Millisecond, maxUp: 1200 * time.Millisecond}
	if testing.Short() {
		plan.kills = 3
	}
	runCrash(t, plan)
}

func TestCrashRecoveryLong(t *testing.T) {
	raw := os.Getenv("ACMEGATE_CRASH_KILLS")
	if raw == "" || testing.Short() {
		t.Skip("long crash test: set ACMEGATE_CRASH_KILLS=N (for example 200) and run without -short")
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 {
		t.Fatalf("ACMEGATE_CRASH_KILLS=%q: want a positive number", raw)
	}
	runCrash(t, crashPlan{kills: n, workers: 4, minUp: 300 * time.Millisecond, maxUp: 2 * time.Second})
}

// receivedCert is a certificate a client got from the gateway.
type receivedCert struct {
	worker int
	name   string
	serial string
	der    []byte
}

// crashLedger collects what the clients saw, shared by the workers.
type crashLedger struct {
	mu       sync.Mutex
	certs    []receivedCert
	problems []string // wrong certificates, reported by the test goroutine
	errs     int      // failed steps (expected while the gateway is down)
	gaveUp   int      // certificates abandoned after their step budget
}

func (l *crashLedger) add(c receivedCert) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.certs = append(l.certs, c)
}

func (l *crashLedger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

func (l *crashLedger) failedStep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs++
}

func (l *crashLedger) abandoned() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gaveUp++
}

func (l *crashLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.certs)
}

func runCrash(t *testing.T, plan crashPlan) {
	start := time.Now()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ACMEGATE_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ACMEGATE_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("crash plan: %d kills, %d clients, up %v to %v between kills; seed %d (ACMEGATE_CRASH_SEED)",
		plan.kills, plan.workers, plan.minUp, plan.maxUp, seed)
	rng := mathrand.New(mathrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))

	g := startGateway(t, withDataDir(newDataDir(t)), withConfig(fmt.Sprintf(
		"acme:\n  recover_after: %s\n  upkeep_interval: %s\nchallenges:\n  timeout: %s\n",
		crashRecoverAfter, crashUpkeepInterval, crashValidationTimeout)))

	// Accounts are registered while the gateway is surely up.
	ledger := &crashLedger{}
	workers := make([]*crashWorker, plan.workers)
	for i := range workers {
		workers[i] = newCrashWorker(t, g, i, ledger)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(t.Context(), time.Duration(plan.kills)*15*time.Second+2*time.Minute)
	defer cancel()
	for _, w := range workers {
		wg.Go(func() { w.run(ctx, stop) })
	}

	// The kills, at random moments.
	var downtime time.Duration
	for k := 1; k <= plan.kills; k++ {
		up := plan.minUp + time.Duration(rng.Int64N(int64(plan.maxUp-plan.minUp)+1))
		time.Sleep(up)
		before := ledger.count()
		g.Kill()
		killed := time.Now()
		g.Restart()
		downtime += time.Since(killed)
		t.Logf("kill %d after %v up (%d certificates received so far); back in %v",
			k, up.Round(time.Millisecond), before, time.Since(killed).Round(time.Millisecond))
	}
	close(stop)
	wg.Wait()
	killsDone := time.Now()

	// Recovery: upkeep (every crashUpkeepInterval, once the killed
	// process's lease has lapsed) completes what the last kill left.
	dbPath := filepath.Join(g.DataDir, "acmegate.db")
	waitNoProcessing(t, dbPath, crashRecoveryWait)
	recovered := time.Since(killsDone)
	g.Stop()

	ledger.mu.Lock()
	defer ledger.mu.Unlock()
	for _, p := range ledger.problems {
		t.Errorf("client: %s", p)
	}
	if len(ledger.certs) == 0 {
		t.Fatalf("no client received a certificate in %d kills; the test proved nothing", plan.kills)
	}
	inv := checkCrashInvariants(t, dbPath, ledger.certs)
	checkInventoryCLI(t, g.DataDir, ledger.certs, inv.certificates)
	out := runGateway(t, "audit", "verify", "--data", g.DataDir)
	if !bytes.Contains(out, []byte("audit chain intact")) {
		t.Errorf("acmegate audit verify: got %q, want \"audit chain intact\"", out)
	}

	output := g.output.String()
	t.Logf("crash figures: kills=%d survived=%d received=%d inventory=%d lost=%d duplicate_serials=%d "+
		"reservations=%d unused_reservations=%d recovery_reissues=%d validation_recoveries=%d "+
		"failed_client_steps=%d abandoned=%d mean_restart=%v recovery_after_last_kill=%v total=%v",
		plan.kills, plan.kills, len(ledger.certs), inv.certificates, inv.lost, inv.duplicateSerials,
		inv.reservations, inv.reservations-inv.certificates, inv.recoveryIntents,
		strings.Count(output, "recovered interrupted validations"), ledger.errs, ledger.gaveUp, (downtime / time.Duration(plan.kills)).Round(time.Millisecond),
		recovered.Round(time.Millisecond), time.Since(start).Round(time.Second))
}

// crashWorker is one ACME client of the crash test. It obtains
// certificates for fresh names one after another, resuming its order
// after every error instead of starting over, so that orders interrupted
// by a kill are carried to the end when the gateway recovers them.
type crashWorker struct {
	t       *testing.T
	g       *gateway
	id      int
	client  *acme.Client
	certKey *ecdsa.PrivateKey
	ledger  *crashLedger
	rng     *mathrand.Rand
}

func newCrashWorker(t *testing.T, g *gateway, id int, ledger *crashLedger) *crashWorker {
	t.Helper()
	w := &crashWorker{t: t, g: g, id: id, certKey: newKey(t), ledger: ledger,
		rng: mathrand.New(mathrand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))}
	w.client = &acme.Client{
		Key:          newKey(t),
		DirectoryURL: g.DirectoryURL,
		HTTPClient:   g.HTTPClient(),
		UserAgent:    "acmegate-crash-test",
		// A few quick retries of 5xx and badNonce, then the error goes to
		// the worker, which has its own bounded loop.
		RetryBackoff: func(n int, _ *http.Request, _ *http.Response) time.Duration {
			if n > 3 {
				return -1
			}
			return time.Duration(n) * 50 * time.Millisecond
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	if _, err := w.client.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("worker %d: Register: %v", id, err)
	}
	return w
}

// run obtains certificates until stop is closed; the certificate in
// progress then still gets its remaining budget.
func (w *crashWorker) run(ctx context.Context, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		name := fmt.Sprintf("w%d-c%d.crash.test.internal", w.id, i)
		w.g.DNS.SetA(name, "127.0.0.1")
		w.obtain(ctx, name)
	}
}

// errAbandonOrder makes obtain start over with a new order.
var errAbandonOrder = errors.New("abandon the order")

// obtain carries one certificate for name to the end, within
// crashMaxSteps steps and crashCertDeadline.
func (w *crashWorker) obtain(ctx context.Context, name string) {
	ctx, cancel := context.WithTimeout(ctx, crashCertDeadline)
	defer cancel()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, w.certKey)
	if err != nil {
		w.ledger.problem("worker %d: creating a CSR: %v", w.id, err)
		return
	}
	var orderURL string
	orderFailures := 0
	for step := 0; step < crashMaxSteps && ctx.Err() == nil; step++ {
		if step > 0 {
			pause(ctx, time.Duration(50+w.rng.IntN(200))*time.Millisecond)
		}
		chain, err := w.step(ctx, name, csr, &orderURL)
		if chain != nil {
			w.record(name, chain)
			return
		}
		if err == nil {
			continue
		}
		w.ledger.failedStep()
		if errors.Is(err, errAbandonOrder) {
			orderURL, orderFailures = "", 0
			continue
		}
		// An order whose steps keep failing while the gateway is up (for
		// example an authorization that never leaves pending) is given up
		// for a new one; kills alone rarely fail five steps in a row.
		if orderFailures++; orderFailures >= 5 {
			orderURL, orderFailures = "", 0
		}
	}
	w.ledger.abandoned()
}

// step moves the order one step on and returns the chain once there is
// one. *orderURL is empty until an order exists.
func (w *crashWorker) step(ctx context.Context, name string, csr []byte, orderURL *string) ([][]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, crashStepTimeout)
	defer cancel()
	if *orderURL == "" {
		o, err := w.client.AuthorizeOrder(ctx, acme.DomainIDs(name))
		if err != nil {
			return nil, err
		}
		*orderURL = o.URI
	}
	o, err := w.client.GetOrder(ctx, *orderURL)
	if err != nil {
		return nil, err
	}
	switch o.Status {
	case acme.StatusPending:
		return nil, w.authorize(ctx, o)
	case acme.StatusReady:
		chain, _, err := w.client.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
		return chain, err
	case acme.StatusProcessing:
		_, err := w.client.WaitOrder(ctx, o.URI)
		return nil, err
	case acme.StatusValid:
		return w.client.FetchCert(ctx, o.CertURL, true)
	case acme.StatusInvalid:
		return nil, errAbandonOrder
	}
	return nil, fmt.Errorf("order %s has status %q", o.URI, o.Status)
}

// authorize answers the http-01 challenge of every pending authorization
// of o and waits for each to be decided.
func (w *crashWorker) authorize(ctx context.Context, o *acme.Order) error {
	for _, u := range o.AuthzURLs {
		z, err := w.client.GetAuthorization(ctx, u)
		if err != nil {
			return err
		}
		switch z.Status {
		case acme.StatusValid:
			continue
		case acme.StatusPending:
		default:
			return errAbandonOrder
		}
		var chal *acme.Challenge
		for _, c := range z.Challenges {
			if c.Type == challHTTP01 {
				chal = c
			}
		}
		if chal == nil {
			return fmt.Errorf("authorization %s offers no http-01 challenge", u)
		}
		keyAuth, err := w.client.HTTP01ChallengeResponse(chal.Token)
		if err != nil {
			return err
		}
		w.g.HTTP01.Set(chal.Token, keyAuth)
		if chal.Status == acme.StatusPending {
			if _, err := w.client.Accept(ctx, chal); err != nil {
				return err
			}
		}
		if _, err := w.client.WaitAuthorization(ctx, z.URI); err != nil {
			var ae *acme.AuthorizationError
			if errors.As(err, &ae) {
				return errAbandonOrder
			}
			return err
		}
	}
	return nil
}

// record checks a received chain (leaf for name, verifying to root.pem)
// and adds the leaf to the ledger.
func (w *crashWorker) record(name string, chain [][]byte) {
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		w.ledger.problem("worker %d: %s: parsing the leaf: %v", w.id, name, err)
		return
	}
	w.ledger.add(receivedCert{worker: w.id, name: name, serial: certSerial(leaf), der: chain[0]})
	if !slices.Equal(leaf.DNSNames, []string{name}) {
		w.ledger.problem("worker %d: leaf %s names %q, want [%s]", w.id, certSerial(leaf), leaf.DNSNames, name)
	}
	inter := x509.NewCertPool()
	for _, der := range chain[1:] {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			w.ledger.problem("worker %d: %s: parsing the chain: %v", w.id, name, err)
			return
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: w.g.RootPool, Intermediates: inter}); err != nil {
		w.ledger.problem("worker %d: leaf %s does not verify to root.pem: %v", w.id, certSerial(leaf), err)
	}
}

// pause sleeps d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}

// waitNoProcessing polls the database of a running gateway, read-only,
// until no order or challenge is processing, and fails the test if that
// does not happen within limit.
func waitNoProcessing(t *testing.T, dbPath string, limit time.Duration) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+dbPath+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatalf("opening %s read-only: %v", dbPath, err)
	}
	defer db.Close()
	deadline := time.Now().Add(limit)
	for {
		var orders, chals int
		err := db.QueryRow(`SELECT (SELECT count(*) FROM orders WHERE status = 'processing'),
			(SELECT count(*) FROM challenges WHERE status = 'processing')`).Scan(&orders, &chals)
		if err == nil && orders == 0 && chals == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("after %v: %d orders and %d challenges still processing (query error: %v), want none",
				limit, orders, chals, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// crashInventory is what checkCrashInvariants counted.
type crashInventory struct {
	certificates     int
	reservations     int
	recoveryIntents  int
	lost             int
	duplicateSerials int
}

// checkCrashInvariants opens the stopped gateway's database with the store
// package and checks that the crashes left nothing lost or half-done.
func checkCrashInvariants(t *testing.T, dbPath string, received []receivedCert) crashInventory {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, store.Options{URL: "sqlite://" + dbPath})
	if err != nil {
		t.Fatalf("opening the database after the crashes: %v", err)
	}
	defer st.Close()
	db := st.DB().WithContext(ctx)

	var integrity string
	if err := db.Raw("PRAGMA integrity_check").Scan(&integrity).Error; err != nil || integrity != "ok" {
		t.Errorf("PRAGMA integrity_check: got %q (%v), want ok", integrity, err)
	}

	var (
		certs        []store.Certificate
		reservations []store.SerialReservation
		orders       []store.Order
		events       []store.AuditEvent
		stuckChals   int64
	)
	queries := []struct {
		what string
		err  error
	}{
		{"certificates", db.Find(&certs).Error},
		{"reservations", db.Find(&reservations).Error},
		{"orders", db.Find(&orders).Error},
		{"audit events", db.Where("type IN ?", []string{"certificate.issued", "certificate.requested"}).
			Find(&events).Error},
		{"challenges", db.Model(&store.Challenge{}).Where("status = ?", "processing").Count(&stuckChals).Error},
	}
	for _, q := range queries {
		if q.err != nil {
			t.Fatalf("reading %s: %v", q.what, q.err)
		}
	}
	inv := crashInventory{certificates: len(certs), reservations: len(reservations)}

	byserial := map[string]store.Certificate{}
	perOrder := map[string]int{}
	for _, c := range certs {
		byserial[c.Serial] = c
		perOrder[c.OrderID]++
	}
	reserved := map[string]string{} // serial → order
	for _, r := range reservations {
		reserved[r.Serial] = r.OrderID
	}
	issuedEvents := map[string]int{}
	intents := map[string]int{}
	for _, e := range events {
		switch e.Type {
		case "certificate.issued":
			issuedEvents[strings.TrimPrefix(e.Subject, "certificate:")]++
		case "certificate.requested":
			var data struct {
				Serial string `json:"serial"`
			}
			if err := json.Unmarshal([]byte(e.Data), &data); err != nil {
				t.Errorf("audit event %d: data %q: %v", e.Seq, e.Data, err)
			}
			intents[data.Serial]++
			if e.Actor == "system" {
				inv.recoveryIntents++
			}
		}
	}
	orderByID := map[string]store.Order{}
	for _, o := range orders {
		orderByID[o.ID] = o
	}

	// 1. Every certificate a client received is stored, byte for byte, and
	// no serial came with two different certificates.
	seen := map[string][]byte{}
	for _, rc := range received {
		if prev, ok := seen[rc.serial]; ok && !bytes.Equal(prev, rc.der) {
			inv.duplicateSerials++
			t.Errorf("serial %s was received with two different certificates", rc.serial)
		}
		seen[rc.serial] = rc.der
		c, ok := byserial[rc.serial]
		switch {
		case !ok:
			inv.lost++
			t.Errorf("worker %d received %s (serial %s), which is not in the inventory", rc.worker, rc.name, rc.serial)
		case !bytes.Equal(c.DER, rc.der):
			inv.lost++
			t.Errorf("serial %s: the stored DER differs from the one worker %d received", rc.serial, rc.worker)
		}
	}

	// 2. Every stored certificate has its reservation, its intent and
	// exactly one issued event, and belongs to a valid order that names it.
	for serial, c := range byserial {
		if o, ok := reserved[serial]; !ok || o != c.OrderID {
			t.Errorf("certificate %s: reservation for order %q (found %v), want one for order %s",
				serial, o, ok, c.OrderID)
		}
		if intents[serial] != 1 {
			t.Errorf("certificate %s: %d certificate.requested events, want 1", serial, intents[serial])
		}
		if issuedEvents[serial] != 1 {
			t.Errorf("certificate %s: %d certificate.issued events, want 1", serial, issuedEvents[serial])
		}
		o, ok := orderByID[c.OrderID]
		if !ok || o.Status != "valid" || o.CertificateSerial != serial {
			t.Errorf("certificate %s: order %s has status %q and serial %q, want valid naming the certificate",
				serial, c.OrderID, o.Status, o.CertificateSerial)
		}
	}
	for serial, n := range issuedEvents {
		if _, ok := byserial[serial]; !ok {
			t.Errorf("certificate.issued event(s) (%d) for serial %s, which is not stored", n, serial)
		}
	}
	// 3. Every reservation was recorded with its intent.
	for serial := range reserved {
		if intents[serial] != 1 {
			t.Errorf("reservation %s: %d certificate.requested events, want 1", serial, intents[serial])
		}
	}
	// 4. No order has two certificates, none is left processing, and a
	// valid order's certificate exists.
	for id, n := range perOrder {
		if n > 1 {
			t.Errorf("order %s has %d certificates, want at most 1", id, n)
		}
	}
	for _, o := range orders {
		switch o.Status {
		case "processing":
			t.Errorf("order %s is still processing after recovery", o.ID)
		case "valid":
			if c, ok := byserial[o.CertificateSerial]; !ok || c.OrderID != o.ID {
				t.Errorf("valid order %s names certificate %q, which is not stored for it", o.ID, o.CertificateSerial)
			}
		}
	}
	if stuckChals > 0 {
		t.Errorf("%d challenges are still processing after recovery, want none", stuckChals)
	}
	return inv
}

// checkInventoryCLI compares `acmegate certs list --format json` with the
// database and the certificates the clients received.
func checkInventoryCLI(t *testing.T, dataDir string, received []receivedCert, stored int) {
	t.Helper()
	out := runGateway(t, "certs", "list", "--data", dataDir, "--format", "json", "--limit", "1000000")
	var rows []struct {
		Serial string `json:"serial"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("acmegate certs list --format json: %v\n%.500s", err, out)
	}
	listed := map[string]bool{}
	for _, r := range rows {
		if listed[r.Serial] {
			t.Errorf("certs list shows serial %s twice", r.Serial)
		}
		listed[r.Serial] = true
	}
	if len(listed) != stored {
		t.Errorf("certs list: got %d certificates, want the %d stored", len(listed), stored)
	}
	for _, rc := range received {
		if !listed[rc.serial] {
			t.Errorf("certs list lacks serial %s, received by worker %d", rc.serial, rc.worker)
		}
	}
}

// TestCrashDuringValidation kills the gateway while an http-01 validation
// is waiting on the client's responder. After the restart the challenge
// must not stay processing: upkeep validates it again, the authorization
// becomes valid without the client answering anew, and the order goes on
// to a certificate.
func TestCrashDuringValidation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withDataDir(newDataDir(t)), withConfig(fmt.Sprintf(
		"acme:\n  recover_after: %s\n  upkeep_interval: %s\nchallenges:\n  timeout: %s\n",
		crashRecoverAfter, crashUpkeepInterval, crashValidationTimeout)))
	ctx, cancel := context.WithTimeout(t.Context(), flowTimeout)
	defer cancel()
	name := "killed-validation.crash.test.internal"
	client, order, chal, keyAuth := pendingHTTP01(t, ctx, g, name)
	// The first validation request hangs until the gateway is gone; later
	// ones are answered.
	hit := make(chan struct{})
	var requests sync.Mutex
	served := 0
	g.HTTP01.Handle("/.well-known/acme-challenge/"+chal.Token, http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			requests.Lock()
			served++
			first := served == 1
			requests.Unlock()
			if first {
				close(hit)
				select {
				case <-r.Context().Done():
				case <-time.After(30 * time.Second):
				}
				return
			}
			_, _ = w.Write([]byte(keyAuth))
		}))
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		_, _ = client.Accept(ctx, chal) // fails when the gateway dies under it
	}()
	select {
	case <-hit:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway did not start the http-01 validation within 30s")
	}
	g.Kill()
	<-accepted
	killed := time.Now()
	g.Restart()

	waitCtx, waitCancel := context.WithTimeout(ctx, crashRecoveryWait)
	defer waitCancel()
	if _, err := client.WaitAuthorization(waitCtx, order.AuthzURLs[0]); err != nil {
		t.Fatalf("WaitAuthorization after the restart: %v, want the interrupted validation completed within %v",
			err, crashRecoveryWait)
	}
	took := time.Since(killed)
	requests.Lock()
	if served < 2 {
		t.Errorf("the responder got %d requests, want the validation run again after the restart", served)
	}
	requests.Unlock()
	order, err := client.WaitOrder(ctx, order.URI)
	if err != nil {
		t.Fatalf("WaitOrder: %v", err)
	}
	chain, _, err := client.CreateOrderCert(ctx, order.FinalizeURL, newCSR(t, newKey(t), []string{name}), true)
	if err != nil {
		t.Fatalf("CreateOrderCert: %v", err)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(leaf.DNSNames, []string{name}) {
		t.Errorf("leaf names: got %q, want [%s]", leaf.DNSNames, name)
	}
	t.Logf("crash figures: validation killed in flight, authorization valid %v after the kill",
		took.Round(time.Millisecond))
}
