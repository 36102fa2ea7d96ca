package server_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/server"
)

// urn returns the wire type of an ACME error name. Tests spell the names
// out instead of asking the problem package, so that a wrong row in its
// table shows up here.
func urn(name string) string { return "urn:ietf:params:acme:error:" + name }

// wantProblem checks that r is a problem document (RFC 8555, Section 6.7)
// with the given HTTP status and type, whose status member equals the HTTP
// status, and returns it. The Replay-Nonce and index Link headers are
// checked for every response by the gateway's Do.
func wantProblem(t *testing.T, r *acmetest.Response, status int, name string) *problem.Document {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want status %d and type %s", r, status, name)
	}
	doc := r.Problem(t)
	if doc.Type != urn(name) {
		t.Errorf("got type %q, want %q (detail %q)", doc.Type, urn(name), doc.Detail)
	}
	if doc.Status != r.Status {
		t.Errorf("got status member %d, want the HTTP status %d", doc.Status, r.Status)
	}
	if doc.Detail == "" {
		t.Errorf("got an empty detail, want an explanation")
	}
	return doc
}

// env is a gateway with two accounts and some objects of account A in
// known states, for tables of requests that must be refused.
type env struct {
	gw   *acmetest.Gateway
	a, b *acmetest.Client

	// Objects of account A.
	pendingURL string
	pending    *acmetest.Order
	pendingAz  *acmetest.Authz
	readyURL   string
	ready      *acmetest.Order
	issued     *acmetest.Issued
}

// newEnv builds the fixture; opts configure the gateway.
func newEnv(t *testing.T, opts acmetest.Options) *env {
	t.Helper()
	e := &env{gw: acmetest.New(t, opts)}
	e.a = e.gw.NewClient(t, jose.ES256)
	e.a.Register(t)
	e.b = e.gw.NewClient(t, jose.ES256)
	e.b.Register(t)
	e.pendingURL, e.pending = e.a.NewOrder(t, "pending.corp.internal")
	e.pendingAz = e.a.FetchAuthz(t, e.pending.Authorizations[0])
	e.readyURL, e.ready = e.a.ReadyOrder(t, readyNames...)
	e.issued = e.a.Issue(t, "issued.corp.internal")
	return e
}

// readyNames are the identifiers of the fixture's ready order.
var readyNames = []string{"ready.corp.internal", "www.ready.corp.internal"}

// sender sends one request of a test case.
type sender = func(t *testing.T, e *env) *acmetest.Response

// refusal is a request that must be refused without changing anything.
type refusal struct {
	name string
	send sender
	// status and typ are the expected HTTP status and error name.
	status int
	typ    string
	// detail, when set, must occur in the problem's detail.
	detail string
	// check, when set, looks further at the problem document.
	check func(t *testing.T, e *env, r *acmetest.Response, doc *problem.Document)
}

// runRefusals runs the cases one after the other on e and checks that
// each is refused as expected and that the stored state, the validator and
// the signer were left alone.
func runRefusals(t *testing.T, e *env, cases []refusal) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.gw.Snapshot(t)
			validations, signatures := e.gw.Validator.Calls(), e.gw.Issuer.Calls()

			r := tc.send(t, e)
			doc := wantProblem(t, r, tc.status, tc.typ)
			if tc.detail != "" && !strings.Contains(doc.Detail, tc.detail) {
				t.Errorf("got detail %q, want it to contain %q", doc.Detail, tc.detail)
			}
			if tc.check != nil {
				tc.check(t, e, r, doc)
			}

			if diff := before.Diff(e.gw.Snapshot(t)); diff != "" {
				t.Errorf("a refused request changed stored state: %s", diff)
			}
			if n := e.gw.Validator.Calls(); n != validations {
				t.Errorf("got %d validations started, want none", n-validations)
			}
			if n := e.gw.Issuer.Calls(); n != signatures {
				t.Errorf("got %d signer calls, want none", n-signatures)
			}
		})
	}
}

// mustJSON encodes v.
func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	return b
}

// post sends a raw body to url with the given content type.
func post(t *testing.T, gw *acmetest.Gateway, url, contentType string, body []byte) *acmetest.Response {
	t.Helper()
	return gw.Do(t, gw.NewRequest(t, http.MethodPost, url, contentType, body))
}

// who picks the client that signs a request.
type who func(t *testing.T, e *env) *acmetest.Client

// acctA and acctB sign with the fixture's accounts; newcomer with a fresh
// P-256 key that has no account.
func acctA(_ *testing.T, e *env) *acmetest.Client { return e.a }
func acctB(_ *testing.T, e *env) *acmetest.Client { return e.b }
func newcomer(t *testing.T, e *env) *acmetest.Client {
	return e.gw.NewClient(t, jose.ES256)
}

// at returns the URL of the resource path, for senders.
func at(path string) func(e *env) string {
	return func(e *env) string { return e.gw.URLFor(path) }
}

// withHeader returns a sender that signs payload for url with the
// signer's usual protected header changed by edit (a nil value deletes a
// member).
func withHeader(signer who, url func(e *env) string, payload string,
	edit map[string]any) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		cl := signer(t, e)
		u := url(e)
		hdr := cl.Header(t, u)
		for k, v := range edit {
			if v == nil {
				delete(hdr, k)
				continue
			}
			hdr[k] = v
		}
		return cl.Send(t, u, cl.SignHeader(t, hdr, []byte(payload)))
	}
}

// rawHeader returns a sender that signs payload for url under the protected
// header that header writes, used verbatim.
func rawHeader(signer who, url func(e *env) string, payload string,
	header func(t *testing.T, e *env, cl *acmetest.Client, url string) string,
) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		cl := signer(t, e)
		u := url(e)
		body := acmetest.SignRaw(t, cl.Key, string(cl.Alg), []byte(header(t, e, cl, u)),
			[]byte(payload))
		return cl.Send(t, u, body)
	}
}

// editBody returns a sender that signs payload for url normally and then
// lets edit rewrite the members of the flattened JWS before sending.
func editBody(signer who, url func(e *env) string, payload string,
	edit func(t *testing.T, e *env, jws map[string]any)) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		cl := signer(t, e)
		u := url(e)
		var jws map[string]any
		if err := json.Unmarshal(cl.Sign(t, u, []byte(payload)), &jws); err != nil {
			t.Fatalf("decoding the signed body: %v", err)
		}
		edit(t, e, jws)
		return cl.Send(t, u, mustJSON(t, jws))
	}
}

// rawBody returns a sender that posts the body that body makes to url.
func rawBody(url func(e *env) string,
	body func(t *testing.T, e *env) []byte) sender {
	return func(t *testing.T, e *env) *acmetest.Response {
		return post(t, e.gw, url(e), acmetest.ContentType, body(t, e))
	}
}

// orderPayload is a valid newOrder payload.
const orderPayload = `{"identifiers":[{"type":"dns","value":"new.corp.internal"}]}`

// acmetestMeta is a directory meta object for tests that read it.
var acmetestMeta = server.Meta{
	TermsOfService: "https://corp.internal/acme/terms",
	Website:        "https://corp.internal/pki",
}

// firstCert parses the first certificate of a PEM chain.
func firstCert(t *testing.T, chain []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(chain)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("got no PEM certificate in %q", chain[:min(len(chain), 60)])
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parsing the certificate: %v", err)
	}
	return cert
}
