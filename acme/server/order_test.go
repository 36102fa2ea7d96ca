package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/state"
)

// orderWith returns a sender of a new-order payload by account A.
func orderWith(payload string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		return e.a.Post(t, e.gw.URLFor("new-order"), []byte(payload))
	}
}

// orderFor returns a sender of a new-order for the given identifiers,
// written as type:value.
func orderFor(ids ...string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		var list []acmetest.Identifier
		for _, id := range ids {
			typ, value, _ := strings.Cut(id, ":")
			list = append(list, acmetest.Identifier{Type: typ, Value: value})
		}
		return e.a.PostJSON(t, e.gw.URLFor("new-order"), map[string]any{"identifiers": list})
	}
}

// orderTimes returns a sender of a new-order for one name with notBefore
// and notAfter relative to the fake clock ("" leaves one out).
func orderTimes(notBefore, notAfter func(now time.Time) string) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		p := map[string]any{"identifiers": acmetest.DNS("times.corp.internal")}
		now := e.gw.Clock.Now()
		if notBefore != nil {
			p["notBefore"] = notBefore(now)
		}
		if notAfter != nil {
			p["notAfter"] = notAfter(now)
		}
		return e.a.PostJSON(t, e.gw.URLFor("new-order"), p)
	}
}

func after(d time.Duration) func(time.Time) string {
	return func(now time.Time) string { return now.Add(d).Format(time.RFC3339) }
}

// TestNewOrderRefusals covers identifier syntax and policy (catalogue rows
// F4 and F5), profiles and validity requests: every refusal leaves no
// order, authorization or challenge behind.
func TestNewOrderRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("dns:n%d.corp.internal", i)
	}

	cases := []refusal{
		{name: "identifiers empty", send: orderWith(`{"identifiers":[]}`), status: 400,
			typ: "malformed", detail: "no identifiers"},
		{name: "identifiers missing", send: orderWith(`{}`), status: 400, typ: "malformed"},
		{name: "identifiers null", send: orderWith(`{"identifiers":null}`), status: 400, typ: "malformed"},
		{name: "identifiers not an array", send: orderWith(`{"identifiers":"a.corp.internal"}`),
			status: 400, typ: "malformed"},
		{name: "identifier value not a string",
			send:   orderWith(`{"identifiers":[{"type":"dns","value":7}]}`),
			status: 400, typ: "malformed"},
		{name: "F4 underscore", send: orderFor("dns:bad_name.corp.internal"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 single label", send: orderFor("dns:localhost"), status: 400,
			typ: "rejectedIdentifier", detail: "single label"},
		{name: "F4 label of 64 characters",
			send:   orderFor("dns:" + strings.Repeat("a", 64) + ".corp.internal"),
			status: 400, typ: "rejectedIdentifier", detail: "1 to 63"},
		{name: "F4 name over 253 characters",
			send:   orderFor("dns:" + strings.Repeat("abcdefghi.", 26) + "internal"),
			status: 400, typ: "rejectedIdentifier", detail: "253"},
		{name: "F4 empty label", send: orderFor("dns:a..corp.internal"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 leading hyphen", send: orderFor("dns:-a.corp.internal"), status: 400,
			typ: "rejectedIdentifier", detail: "hyphen"},
		{name: "F4 name with a port", send: orderFor("dns:a.corp.internal:8080"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 name with user information", send: orderFor("dns:u@a.corp.internal"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 empty name", send: orderFor("dns:"), status: 400, typ: "rejectedIdentifier"},
		{name: "F4 internationalized name", send: orderFor("dns:bücher.corp.internal"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 double wildcard", send: orderFor("dns:*.*.corp.internal"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 wildcard not leftmost", send: orderFor("dns:a.*.corp.internal"), status: 400,
			typ: "rejectedIdentifier"},
		{name: "F4 bare wildcard", send: orderFor("dns:*"), status: 400, typ: "rejectedIdentifier"},
		{name: "F4 IPv4 address as a dns identifier", send: orderFor("dns:10.0.0.1"), status: 400,
			typ: "malformed", detail: "type ip"},
		{name: "unsupported identifier type", send: orderFor("email:a@corp.internal"), status: 400,
			typ: "unsupportedIdentifier"},
		{name: "identifier type in upper case", send: orderFor("DNS:a.corp.internal"), status: 400,
			typ: "unsupportedIdentifier"},
		{name: "identifier type missing", send: orderWith(`{"identifiers":[{"value":"a.corp.internal"}]}`),
			status: 400, typ: "unsupportedIdentifier"},
		{name: "ip identifier that is no address", send: orderFor("ip:999.1.1.1"), status: 400,
			typ: "malformed"},
		{name: "ip identifier with a zone", send: orderFor("ip:fe80::1%eth0"), status: 400,
			typ: "malformed"},
		{name: "ip identifier holding a name", send: orderFor("ip:a.corp.internal"), status: 400,
			typ: "malformed"},
		{name: "F5 101 identifiers", send: orderFor(many...), status: 400, typ: "rejectedIdentifier",
			detail: "at most 100"},
		{name: "several bad identifiers give subproblems",
			send: orderFor("dns:ok.corp.internal", "dns:bad_one.corp.internal", "dns:localhost",
				"email:x@corp.internal"),
			status: 400, typ: "rejectedIdentifier", detail: "3 identifiers",
			check: func(t *testing.T, _ *env, _ *acmetest.Response, doc *problem.Document) {
				want := []problem.Identifier{
					{Type: "dns", Value: "bad_one.corp.internal"},
					{Type: "dns", Value: "localhost"},
					{Type: "email", Value: "x@corp.internal"},
				}
				wantTypes := []string{"rejectedIdentifier", "rejectedIdentifier", "unsupportedIdentifier"}
				if len(doc.Subproblems) != len(want) {
					t.Fatalf("got %d subproblems, want %d", len(doc.Subproblems), len(want))
				}
				for i, sub := range doc.Subproblems {
					if sub.Identifier == nil || *sub.Identifier != want[i] {
						t.Errorf("subproblem %d: got identifier %v, want %v", i, sub.Identifier, want[i])
					}
					if sub.Type != urn(wantTypes[i]) || sub.Status != 400 || sub.Detail == "" {
						t.Errorf("subproblem %d: got %s %d %q, want %s 400 and a detail",
							i, sub.Type, sub.Status, sub.Detail, urn(wantTypes[i]))
					}
				}
			}},
		{name: "unknown profile", send: orderWith(`{"identifiers":[{"type":"dns",` +
			`"value":"a.corp.internal"}],"profile":"ten-years"}`), status: 400, typ: "invalidProfile"},
		{name: "notAfter beyond the profile's maximum", send: orderTimes(nil, after(25*time.Hour)),
			status: 400, typ: "malformed", detail: "exceeds"},
		{name: "notAfter in the past", send: orderTimes(nil, after(-time.Hour)), status: 400,
			typ: "malformed", detail: "past"},
		{name: "notBefore after notAfter", send: orderTimes(after(2*time.Hour), after(time.Hour)),
			status: 400, typ: "malformed"},
		{name: "notBefore more than a week ahead", send: orderTimes(after(8*24*time.Hour), nil),
			status: 400, typ: "malformed"},
		{name: "notBefore not RFC 3339", send: orderTimes(func(time.Time) string { return "yesterday" }, nil),
			status: 400, typ: "malformed", detail: "RFC 3339"},
		{name: "replaces that is no certificate ID", send: orderWith(`{"identifiers":[{"type":"dns",` +
			`"value":"a.corp.internal"}],"replaces":"nodot"}`), status: 400, typ: "malformed"},
		{name: "replaces naming another account's certificate",
			send: func(t *testing.T, e *env) *acmetest.Response {
				return e.b.PostJSON(t, e.gw.URLFor("new-order"), map[string]any{
					"identifiers": acmetest.DNS("issued.corp.internal"),
					"replaces":    state.CertificateID(e.issued.Cert)})
			}, status: 400, typ: "malformed", detail: "replaces"},
	}
	runRefusals(t, e, cases)
}

// TestNewOrder checks a successful order: normalised identifiers, one
// pending authorization each with the configured challenges, and the
// order's Location (RFC 8555, Section 7.4). SECURITY-CATALOGUE E7 and E9:
// exactly the safe challenge types are offered, and a wildcard gets dns-01
// only.
func TestNewOrder(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	r := c.PostJSON(t, gw.URLFor("new-order"), map[string]any{"identifiers": []acmetest.Identifier{
		{Type: "dns", Value: "WWW.Corp.Internal."}, {Type: "dns", Value: "*.apps.corp.internal"},
		{Type: "ip", Value: "10.1.2.3"},
	}}).Want(t, http.StatusCreated)
	if !strings.HasPrefix(r.Location(), gw.URLFor("order")+"/") {
		t.Errorf("got Location %q, want an order URL", r.Location())
	}
	var o acmetest.Order
	r.JSON(t, &o)
	wantIDs := []acmetest.Identifier{{Type: "dns", Value: "www.corp.internal"},
		{Type: "dns", Value: "*.apps.corp.internal"}, {Type: "ip", Value: "10.1.2.3"}}
	if o.Status != "pending" || !slices.Equal(o.Identifiers, wantIDs) || len(o.Authorizations) != 3 {
		t.Fatalf("got %+v, want a pending order for %v with 3 authorizations", o, wantIDs)
	}
	wantChallenges := map[string][]string{
		"www.corp.internal":  {"http-01", "dns-01"},
		"apps.corp.internal": {"dns-01"},
		"10.1.2.3":           {"http-01"},
	}
	for _, u := range o.Authorizations {
		a := c.FetchAuthz(t, u)
		var types []string
		for _, ch := range a.Challenges {
			types = append(types, ch.Type)
			if ch.Status != "pending" || len(ch.Token) < 22 {
				t.Errorf("%s: got challenge %+v, want pending with a 128-bit token", a.Identifier.Value, ch)
			}
		}
		if !slices.Equal(types, wantChallenges[a.Identifier.Value]) {
			t.Errorf("%s: got challenges %v, want %v", a.Identifier.Value, types,
				wantChallenges[a.Identifier.Value])
		}
		if a.Identifier.Value == "apps.corp.internal" && !a.Wildcard {
			t.Errorf("got wildcard false for the wildcard authorization")
		}
	}
}

// csrFor returns a sender that finalizes the fixture's ready order with
// the CSR that csr makes.
func csrFor(csr func(t *testing.T, e *env) []byte) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		return e.a.Finalize(t, e.ready, csr(t, e))
	}
}

// csrNames returns a CSR maker for names with a fresh P-256 key.
func csrNames(names []string, edit func(*x509.CertificateRequest)) func(t *testing.T, e *env) []byte {
	return func(t *testing.T, e *env) []byte {
		return acmetest.CSR(t, acmetest.NewKey(t, jose.ES256), names, edit)
	}
}

// csrKey returns a CSR maker for the ready order's names with key.
func csrKey(key func(t *testing.T, e *env) any) func(t *testing.T, e *env) []byte {
	return func(t *testing.T, e *env) []byte {
		der, err := x509.CreateCertificateRequest(rand.Reader,
			&x509.CertificateRequest{DNSNames: readyNames}, key(t, e))
		if err != nil {
			t.Fatalf("creating a CSR: %v", err)
		}
		return der
	}
}

// sha1CSR signs the ready order's CSR with ECDSA over SHA-1, which Go will
// not do for us.
func sha1CSR(t *testing.T, _ *env) []byte {
	key := acmetest.NewKey(t, jose.ES256).(*ecdsa.PrivateKey)
	good, err := x509.ParseCertificateRequest(acmetest.CSR(t, key, readyNames, nil))
	if err != nil {
		t.Fatalf("parsing the CSR: %v", err)
	}
	digest := sha1.Sum(good.RawTBSCertificateRequest)
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatalf("signing: %v", err)
	}
	der, err := asn1.Marshal(struct {
		Info asn1.RawValue
		Alg  pkix.AlgorithmIdentifier
		Sig  asn1.BitString
	}{
		Info: asn1.RawValue{FullBytes: good.RawTBSCertificateRequest},
		Alg:  pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}},
		Sig:  asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)},
	})
	if err != nil {
		t.Fatalf("encoding the CSR: %v", err)
	}
	return der
}

// TestFinalizeRefusals covers catalogue rows C5, D6, D7 and D9: a finalize
// that must fail leaves the order as it was (ready stays ready), reserves
// no serial and never reaches the signer.
func TestFinalizeRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatalf("generating an RSA 1024 key: %v", err)
	}
	// An invalid order: its authorization was deactivated.
	_, invalid := e.a.NewOrder(t, "invalid.corp.internal")
	e.a.Post(t, invalid.Authorizations[0], []byte(`{"status":"deactivated"}`)).Want(t, http.StatusOK)
	finalizeOf := func(o func(e *env) *acmetest.Order, names []string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Finalize(t, o(e), acmetest.CSR(t, acmetest.NewKey(t, jose.ES256), names, nil))
		}
	}
	rawCSR := func(csr string) sender {
		return func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, e.ready.Finalize, []byte(`{"csr":"`+csr+`"}`))
		}
	}

	cases := []refusal{
		{name: "D6 finalize a pending order",
			send: finalizeOf(func(e *env) *acmetest.Order { return e.pending },
				[]string{"pending.corp.internal"}),
			status: 403, typ: "orderNotReady", detail: "pending"},
		{name: "D6 finalize a valid order",
			send: finalizeOf(func(e *env) *acmetest.Order { return e.issued.Order },
				[]string{"issued.corp.internal"}),
			status: 403, typ: "orderNotReady", detail: "valid"},
		{name: "D6 finalize an invalid order",
			send:   finalizeOf(func(*env) *acmetest.Order { return invalid }, []string{"invalid.corp.internal"}),
			status: 403, typ: "orderNotReady", detail: "invalid"},
		{name: "D7 CSR with an extra name",
			send:   csrFor(csrNames(append([]string{"extra.corp.internal"}, readyNames...), nil)),
			status: 400, typ: "badCSR", detail: "not in the order: dns:extra.corp.internal"},
		{name: "D7 CSR missing a name", send: csrFor(csrNames(readyNames[:1], nil)),
			status: 400, typ: "badCSR", detail: "missing from the CSR: dns:www.ready.corp.internal"},
		{name: "D7 CSR with other names", send: csrFor(csrNames([]string{"other.corp.internal"}, nil)),
			status: 400, typ: "badCSR", detail: "not in the order: dns:other.corp.internal"},
		{name: "D7 CSR without names", send: csrFor(csrNames(nil, nil)),
			status: 400, typ: "badCSR", detail: "missing from the CSR"},
		{name: "D7 common name not an identifier",
			send: csrFor(csrNames(readyNames, func(r *x509.CertificateRequest) {
				r.Subject.CommonName = "other.corp.internal"
			})), status: 400, typ: "badCSR", detail: "common name"},
		{name: "D7 IP address beside the names",
			send: csrFor(csrNames(readyNames, func(r *x509.CertificateRequest) {
				r.IPAddresses = []net.IP{net.ParseIP("10.0.0.1")}
			})), status: 400, typ: "badCSR", detail: "ip:10.0.0.1"},
		{name: "D7 email address SAN",
			send: csrFor(csrNames(readyNames, func(r *x509.CertificateRequest) {
				r.EmailAddresses = []string{"admin@corp.internal"}
			})), status: 400, typ: "badCSR"},
		{name: "D7 URI SAN",
			send: csrFor(csrNames(readyNames, func(r *x509.CertificateRequest) {
				u, _ := url.Parse("spiffe://corp.internal/x")
				r.URIs = []*url.URL{u}
			})), status: 400, typ: "badCSR"},
		{name: "C5 account key as the certificate key",
			send:   csrFor(csrKey(func(_ *testing.T, e *env) any { return e.a.Key })),
			status: 400, typ: "badCSR", detail: "account key"},
		{name: "G1 RSA 1024 certificate key",
			send:   csrFor(csrKey(func(*testing.T, *env) any { return rsa1024 })),
			status: 400, typ: "badCSR", detail: "1024"},
		{name: "P-521 certificate key", send: csrFor(csrKey(func(t *testing.T, _ *env) any {
			k, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
			return k
		})), status: 400, typ: "badCSR"},
		{name: "Ed25519 certificate key", send: csrFor(csrKey(func(t *testing.T, _ *env) any {
			_, k, _ := ed25519.GenerateKey(rand.Reader)
			return k
		})), status: 400, typ: "badCSR"},
		{name: "D9 corrupted CSR signature", send: csrFor(func(t *testing.T, e *env) []byte {
			der := csrNames(readyNames, nil)(t, e)
			der[len(der)-3] ^= 0xff
			return der
		}), status: 400, typ: "badCSR", detail: "signature"},
		{name: "D9 CSR signed with SHA-1", send: csrFor(sha1CSR), status: 400, typ: "badCSR",
			detail: "signature"},
		{name: "CSR that is not DER", send: csrFor(func(*testing.T, *env) []byte {
			return []byte("not a certificate request")
		}), status: 400, typ: "badCSR", detail: "cannot be parsed"},
		{name: "CSR not base64url", send: rawCSR("!!!!"), status: 400, typ: "badCSR"},
		{name: "CSR with padding", send: func(t *testing.T, e *env) *acmetest.Response {
			der := csrNames(readyNames, nil)(t, e)
			return e.a.PostJSON(t, e.ready.Finalize, map[string]string{
				"csr": base64.URLEncoding.EncodeToString(append(der, 0))})
		}, status: 400, typ: "badCSR"},
		{name: "CSR empty", send: rawCSR(""), status: 400, typ: "badCSR"},
		{name: "csr member missing", send: func(t *testing.T, e *env) *acmetest.Response {
			return e.a.Post(t, e.ready.Finalize, []byte(`{}`))
		}, status: 400, typ: "badCSR"},
	}
	runRefusals(t, e, cases)

	// After every refusal the order is still ready and can be finalized.
	if o := e.a.FetchOrder(t, e.readyURL); o.Status != "ready" {
		t.Fatalf("got order status %q after the refusals, want ready", o.Status)
	}
	r := e.a.Finalize(t, e.ready, acmetest.CSR(t, acmetest.NewKey(t, jose.ES256),
		[]string{"WWW.READY.corp.internal.", "ready.corp.internal"}, nil))
	var o acmetest.Order
	r.Want(t, http.StatusOK).JSON(t, &o)
	if o.Status != "valid" {
		t.Errorf("got status %q after a CSR with case and trailing dot, want valid", o.Status)
	}
}

// TestFinalize checks the answers of a successful finalize: the order in
// Location (RFC 8555, Section 7.4), then while the signer is held a
// processing order with Retry-After, then the certificate.
func TestFinalize(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{Config: state.Config{FinalizeWait: 20 * time.Millisecond}})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)

	release := make(chan struct{})
	gw.Issuer.SetBefore(func() { <-release })
	url, o := c.ReadyOrder(t, "slow.corp.internal")
	r := c.Finalize(t, o, acmetest.CSR(t, acmetest.NewKey(t, jose.ES256),
		[]string{"slow.corp.internal"}, nil)).Want(t, http.StatusOK)
	if r.Location() != url {
		t.Errorf("got Location %q, want the order %q", r.Location(), url)
	}
	var got acmetest.Order
	r.JSON(t, &got)
	if got.Status != "processing" || r.Header.Get("Retry-After") == "" {
		t.Errorf("got status %q and Retry-After %q, want processing with Retry-After",
			got.Status, r.Header.Get("Retry-After"))
	}
	poll := c.PostAsGet(t, url).Want(t, http.StatusOK)
	if poll.Header.Get("Retry-After") == "" {
		t.Errorf("got no Retry-After while processing")
	}
	wantProblem(t, c.Finalize(t, o, acmetest.CSR(t, acmetest.NewKey(t, jose.ES256),
		[]string{"slow.corp.internal"}, nil)), http.StatusForbidden, "orderNotReady")
	close(release)

	deadline := time.Now().Add(10 * time.Second)
	for got.Status != "valid" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = *c.FetchOrder(t, url)
	}
	if got.Status != "valid" || got.Certificate == "" {
		t.Fatalf("got %+v, want a valid order with a certificate", got)
	}
	if n := gw.Issuer.Calls(); n != 1 {
		t.Errorf("got %d signer calls, want 1", n)
	}
}

// TestFinalizeConcurrent covers catalogue row D4: 20 finalize requests for
// one ready order at once give one certificate; the others get
// orderNotReady.
func TestFinalizeConcurrent(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	url, o := c.ReadyOrder(t, "race.corp.internal")
	csr := base64.RawURLEncoding.EncodeToString(acmetest.CSR(t, acmetest.NewKey(t, jose.ES256),
		[]string{"race.corp.internal"}, nil))

	const n = 20
	bodies := make([][]byte, n)
	for i := range bodies {
		bodies[i] = c.SignWithNonce(t, o.Finalize, gw.FreshNonce(t), []byte(`{"csr":"`+csr+`"}`))
	}
	results := make([]*acmetest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range bodies {
		wg.Go(func() {
			<-start
			results[i] = gw.Do(t, gw.NewRequest(t, http.MethodPost, o.Finalize,
				acmetest.ContentType, bodies[i]))
		})
	}
	close(start)
	wg.Wait()

	ok := 0
	for i, r := range results {
		switch r.Status {
		case http.StatusOK:
			ok++
		case http.StatusForbidden:
			if doc := r.Problem(t); doc.Type != urn("orderNotReady") || doc.Status != 403 {
				t.Errorf("request %d: got %s, want orderNotReady", i, r)
			}
		default:
			t.Errorf("request %d: got %s, want 200 or 403 orderNotReady", i, r)
		}
	}
	if ok != 1 {
		t.Errorf("got %d successful finalizes, want exactly 1", ok)
	}
	snap := gw.Snapshot(t)
	if snap.Counts["certificates"] != 1 || snap.Counts["serial_reservations"] != 1 {
		t.Errorf("got %d certificates and %d reserved serials, want 1 and 1",
			snap.Counts["certificates"], snap.Counts["serial_reservations"])
	}
	if calls := gw.Issuer.Calls(); calls != 1 {
		t.Errorf("got %d signer calls, want 1", calls)
	}
	if final := c.FetchOrder(t, url); final.Status != "valid" {
		t.Errorf("got order status %q, want valid", final.Status)
	}
}

// TestOwnership covers catalogue row D1: account B asking for account A's
// objects gets the very answer it would get for IDs that do not exist, and
// nothing happens to A's objects.
func TestOwnership(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	const missing = "AAAAAAAAAAAAAAAAAAAAAA"
	csr := func(t *testing.T) []byte {
		return acmetest.CSR(t, acmetest.NewKey(t, jose.ES256), readyNames, nil)
	}

	type probe func(t *testing.T, e *env, url string) *acmetest.Response
	postAsGet := func(t *testing.T, e *env, url string) *acmetest.Response { return e.b.PostAsGet(t, url) }
	postEmpty := func(t *testing.T, e *env, url string) *acmetest.Response {
		return e.b.Post(t, url, []byte("{}"))
	}
	finalize := func(t *testing.T, e *env, url string) *acmetest.Response {
		return e.b.Finalize(t, &acmetest.Order{Finalize: url}, csr(t))
	}
	deactivate := func(t *testing.T, e *env, url string) *acmetest.Response {
		return e.b.Post(t, url, []byte(`{"status":"deactivated"}`))
	}

	pairs := []struct {
		name          string
		do            probe
		theirs, none  func(e *env) string
		status        int
		typ, contains string
	}{
		{"D1 order", postAsGet, func(e *env) string { return e.pendingURL },
			func(e *env) string { return e.gw.URLFor("order", missing) }, 404, "malformed", "order"},
		{"D1 authorization", postAsGet, func(e *env) string { return e.pending.Authorizations[0] },
			func(e *env) string { return e.gw.URLFor("authz", missing) }, 404, "malformed", "authorization"},
		{"D1 deactivate authorization", deactivate,
			func(e *env) string { return e.pending.Authorizations[0] },
			func(e *env) string { return e.gw.URLFor("authz", missing) }, 404, "malformed", "authorization"},
		{"D1 challenge read", postAsGet, func(e *env) string { return e.pendingAz.Challenges[0].URL },
			func(e *env) string { return e.gw.URLFor("chall", missing) }, 404, "malformed", "challenge"},
		{"D1 challenge response", postEmpty, func(e *env) string { return e.pendingAz.Challenges[0].URL },
			func(e *env) string { return e.gw.URLFor("chall", missing) }, 404, "malformed", "challenge"},
		{"D1 certificate", postAsGet, func(e *env) string { return e.issued.CertURL },
			func(e *env) string { return e.gw.URLFor("cert", "00000000000000000000000000000001") },
			404, "malformed", "certificate"},
		{"D1 finalize", finalize, func(e *env) string { return e.ready.Finalize },
			func(e *env) string { return e.gw.URLFor("order", missing, "finalize") }, 404, "malformed", "order"},
		{"D1 account", postAsGet, func(e *env) string { return e.a.KID },
			func(e *env) string { return e.gw.URLFor("acct", missing) }, 403, "unauthorized", "account"},
		{"D1 orders list", postAsGet, func(e *env) string { return e.a.KID + "/orders" },
			func(e *env) string { return e.gw.URLFor("acct", missing, "orders") },
			403, "unauthorized", "orders"},
	}
	var cases []refusal
	for _, p := range pairs {
		cases = append(cases, refusal{
			name:   p.name,
			send:   func(t *testing.T, e *env) *acmetest.Response { return p.do(t, e, p.theirs(e)) },
			status: p.status, typ: p.typ, detail: p.contains,
			check: func(t *testing.T, e *env, r *acmetest.Response, _ *problem.Document) {
				other := p.do(t, e, p.none(e))
				if !bytes.Equal(r.Body, other.Body) || r.Status != other.Status {
					t.Errorf("another account's object answered\n%s\nbut a missing one\n%s",
						r, other)
				}
			},
		})
	}
	runRefusals(t, e, cases)

	// A still sees all of it.
	if o := e.a.FetchOrder(t, e.pendingURL); o.Status != "pending" {
		t.Errorf("got A's order status %q, want pending", o.Status)
	}
}

// TestReplacesOnce checks that a certificate can be replaced by one order
// only: once an order naming it in replaces is finalized, a second one is
// refused with alreadyReplaced (RFC 9773, Section 5), however its ID
// spells the serial. The order keeps the ID in the spelling of RFC 9773,
// whatever leading zero octets the client put in the serial.
func TestReplacesOnce(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	c := gw.NewClient(t, jose.ES256)
	c.Register(t)
	old := c.Issue(t, "renew.corp.internal")
	certID := state.CertificateID(old.Cert)
	order := func(replaces string, status int) *acmetest.Response {
		t.Helper()
		return c.PostJSON(t, gw.URLFor("new-order"), map[string]any{
			"identifiers": acmetest.DNS("renew.corp.internal"), "replaces": replaces,
		}).Want(t, status)
	}

	r := order(zeroPadded(t, certID, 2), http.StatusCreated)
	o := c.Validate(t, r.Location())
	if o.Replaces != certID {
		t.Fatalf("got replaces %q on the order, want %q", o.Replaces, certID)
	}
	key := acmetest.NewKey(t, jose.ES256)
	c.Finalize(t, o, acmetest.CSR(t, key, []string{"renew.corp.internal"}, nil)).Want(t, http.StatusOK)

	for _, replaces := range []string{certID, zeroPadded(t, certID, 1)} {
		r = order(replaces, http.StatusConflict)
		if doc := r.Problem(t); doc.Type != urn("alreadyReplaced") {
			t.Fatalf("replaces %s: got problem %s, want %s", replaces, doc.Type, urn("alreadyReplaced"))
		}
	}
}

// zeroPadded spells the serial of an ARI certificate ID with n more
// leading zero octets.
func zeroPadded(t *testing.T, certID string, n int) string {
	t.Helper()
	aki, serial, _ := strings.Cut(certID, ".")
	value, err := base64.RawURLEncoding.DecodeString(serial)
	if err != nil {
		t.Fatal(err)
	}
	return aki + "." + base64.RawURLEncoding.EncodeToString(append(make([]byte, n), value...))
}
