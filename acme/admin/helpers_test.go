package admin_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/admin"
	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/ca/catest"
	"github.com/acmegate/acmegate/store"
)

var _ admin.Revoker = (*state.Engine)(nil)

// operatorName is the client certificate name accepted as an operator.
const operatorName = "ops.corp.test"

// env is an in-process gateway with the admin API served over TLS next to
// it, sharing its store, engine, CA and fake clock.
type env struct {
	gw    *acmetest.Gateway
	srv   *httptest.Server
	url   string
	token string
}

// newEnv starts the gateway and the admin API, and creates a token
// labelled alice.
func newEnv(t *testing.T, opts acmetest.Options) *env {
	t.Helper()
	gw := acmetest.New(t, opts)
	issuer := gw.Issuer.CA()
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "admin_test_total",
		Help: "A counter to find in /metrics."}))
	api, err := admin.New(admin.Options{
		Store: gw.Store, Revoker: gw.Engine, Intermediate: issuer.Certificate,
		Root: issuer.Root, ClientNames: []string{operatorName}, Metrics: reg, Pprof: true,
		Clock: gw.Clock,
	})
	if err != nil {
		t.Fatalf("admin.New: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := issuer.IssueServerCertificate([]string{"127.0.0.1"}, key, 24*time.Hour,
		gw.Clock.Now(), rand.Reader)
	if err != nil {
		t.Fatalf("issuing the admin server certificate: %v", err)
	}
	srv := httptest.NewUnstartedServer(api.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert},
		ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	e := &env{gw: gw, srv: srv, url: srv.URL}
	e.token = e.createToken(t, "alice")
	return e
}

func (e *env) createToken(t *testing.T, label string) string {
	t.Helper()
	token, _, err := admin.CreateToken(context.Background(), e.gw.Store, rand.Reader, label,
		"operator")
	if err != nil {
		t.Fatalf("creating a token: %v", err)
	}
	return token
}

// client returns an HTTPS client trusting the gateway's root at the fake
// clock's time, presenting cert when it is not nil.
func (e *env) client(cert *tls.Certificate) *http.Client {
	roots := x509.NewCertPool()
	roots.AddCert(e.gw.Issuer.CA().Root)
	cfg := &tls.Config{RootCAs: roots, Time: e.gw.Clock.Now, MinVersion: tls.VersionTLS12}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// response is a read answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into v, failing the test when it is not JSON.
func (r *response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errorMessage returns the error field of a JSON error answer.
func (r *response) errorMessage(t *testing.T) string {
	t.Helper()
	var body struct {
		Error  string `json:"error"`
		Status int    `json:"status"`
	}
	r.json(t, &body)
	if body.Status != r.status || body.Error == "" {
		t.Errorf("error body %s: want status %d and a message", r.body, r.status)
	}
	return body.Error
}

// request is what [env.do] sends.
type request struct {
	method, path string
	// body is JSON-encoded unless it is []byte.
	body any
	// token is sent as a bearer token when not empty.
	token  string
	cert   *tls.Certificate
	header map[string]string
}

func (e *env) do(t *testing.T, req request) *response {
	t.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(raw)
	}
	r, err := http.NewRequest(req.method, e.url+req.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if req.token != "" {
		r.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		r.Header.Set(k, v)
	}
	resp, err := e.client(req.cert).Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", req.method, req.path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// as sends req with alice's token.
func (e *env) as(t *testing.T, method, path string, body any) *response {
	t.Helper()
	return e.do(t, request{method: method, path: path, body: body, token: e.token})
}

// want fails the test unless r has the status.
func (r *response) want(t *testing.T, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("got status %d (%s), want %d", r.status, r.body, status)
	}
	return r
}

// issue obtains a certificate for names through the ACME flow, so it is
// recorded in the store like any other.
func (e *env) issue(t *testing.T, names ...string) *acmetest.Issued {
	t.Helper()
	cl := e.gw.NewClient(t, jose.ES256)
	cl.Register(t)
	return cl.Issue(t, names...)
}

// tlsCert pairs an issued certificate with its key and the intermediate.
func (e *env) tlsCert(iss *acmetest.Issued) *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{iss.Cert.Raw, e.gw.Issuer.CA().Certificate.Raw},
		PrivateKey: iss.Key, Leaf: iss.Cert}
}

// lastAudit returns the newest audit event.
func (e *env) lastAudit(t *testing.T) store.AuditEvent {
	t.Helper()
	rows, err := e.gw.Store.AuditEvents(context.Background(), 0, time.Time{}, 100000)
	if err != nil || len(rows) == 0 {
		t.Fatalf("reading the audit log: %d events, %v", len(rows), err)
	}
	return rows[len(rows)-1]
}

// foreignCert makes a client certificate for name from a CA the gateway
// does not know, with the clientAuth usage.
func foreignCert(t *testing.T, name string, now time.Time) *tls.Certificate {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1),
		Subject: pkix.Name{CommonName: "Foreign CA"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
}

// unrecordedCert makes a clientAuth certificate for name from the
// gateway's intermediate without recording it in the store.
func (e *env) unrecordedCert(t *testing.T, name string, eku x509.ExtKeyUsage) *tls.Certificate {
	t.Helper()
	issuer := e.gw.Issuer.CA()
	parsed, key := catest.NewCSR(t)
	csr, err := ca.CheckCSR(parsed)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := ca.NewSerial(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, der, err := issuer.Issue(ca.IssueRequest{CSR: csr, DNSNames: []string{name},
		Serial: serial, Now: e.gw.Clock.Now(),
		Profile: ca.Profile{Name: "test", Lifetime: time.Hour, MaxLifetime: time.Hour,
			ExtKeyUsage: []x509.ExtKeyUsage{eku}}})
	if err != nil {
		t.Fatalf("issuing %s: %v", name, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, issuer.Certificate.Raw}, PrivateKey: key,
		Leaf: cert}
}

// hexSerial returns a certificate's serial as the store keeps it.
func hexSerial(c *x509.Certificate) string { return hex.EncodeToString(c.SerialNumber.Bytes()) }
