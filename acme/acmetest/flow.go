package acmetest

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// The ACME objects as a client reads them (RFC 8555, Section 7.1).

// Account is an account object.
type Account struct {
	Status                 string          `json:"status"`
	Contact                []string        `json:"contact"`
	Orders                 string          `json:"orders"`
	ExternalAccountBinding json.RawMessage `json:"externalAccountBinding"`
}

// Identifier is an order or authorization identifier.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Order is an order object.
type Order struct {
	Status         string            `json:"status"`
	Expires        string            `json:"expires"`
	Identifiers    []Identifier      `json:"identifiers"`
	NotBefore      string            `json:"notBefore"`
	NotAfter       string            `json:"notAfter"`
	Error          *problem.Document `json:"error"`
	Authorizations []string          `json:"authorizations"`
	Finalize       string            `json:"finalize"`
	Certificate    string            `json:"certificate"`
	Profile        string            `json:"profile"`
	Replaces       string            `json:"replaces"`
}

// Authz is an authorization object.
type Authz struct {
	Identifier Identifier  `json:"identifier"`
	Status     string      `json:"status"`
	Expires    string      `json:"expires"`
	Challenges []Challenge `json:"challenges"`
	Wildcard   bool        `json:"wildcard"`
}

// Challenge is a challenge object.
type Challenge struct {
	Type      string            `json:"type"`
	URL       string            `json:"url"`
	Token     string            `json:"token"`
	Status    string            `json:"status"`
	Validated string            `json:"validated"`
	Error     *problem.Document `json:"error"`
}

// DNS returns dns identifiers for names.
func DNS(names ...string) []Identifier {
	out := make([]Identifier, len(names))
	for i, n := range names {
		out[i] = Identifier{Type: "dns", Value: n}
	}
	return out
}

// Register creates the client's account (or finds it) and sets KID.
func (c *Client) Register(t testing.TB) *Account {
	t.Helper()
	c.KID = ""
	r := c.PostJSON(t, c.GW.URLFor("new-account"), map[string]any{
		"termsOfServiceAgreed": true,
		"contact":              []string{"mailto:admin@corp.internal"},
	})
	if r.Status != http.StatusCreated && r.Status != http.StatusOK {
		t.Fatalf("new-account: got %s, want 201 or 200", r)
	}
	c.KID = r.Location()
	var a Account
	r.JSON(t, &a)
	return &a
}

// NewOrder orders certificates for the dns names and returns the order URL
// and the order.
func (c *Client) NewOrder(t testing.TB, names ...string) (string, *Order) {
	t.Helper()
	r := c.PostJSON(t, c.GW.URLFor("new-order"), map[string]any{"identifiers": DNS(names...)})
	r.Want(t, http.StatusCreated)
	var o Order
	r.JSON(t, &o)
	return r.Location(), &o
}

// FetchOrder reads an order with POST-as-GET.
func (c *Client) FetchOrder(t testing.TB, url string) *Order {
	t.Helper()
	var o Order
	c.PostAsGet(t, url).Want(t, http.StatusOK).JSON(t, &o)
	return &o
}

// FetchAuthz reads an authorization with POST-as-GET.
func (c *Client) FetchAuthz(t testing.TB, url string) *Authz {
	t.Helper()
	var a Authz
	c.PostAsGet(t, url).Want(t, http.StatusOK).JSON(t, &a)
	return &a
}

// ChallengeOf returns the challenge of the given type, failing the test
// when the authorization offers none.
func ChallengeOf(t testing.TB, a *Authz, typ string) *Challenge {
	t.Helper()
	for i := range a.Challenges {
		if a.Challenges[i].Type == typ {
			return &a.Challenges[i]
		}
	}
	t.Fatalf("authorization for %s offers no %s challenge", a.Identifier.Value, typ)
	return nil
}

// Respond posts {} to a challenge, asking the server to validate it.
func (c *Client) Respond(t testing.TB, chalURL string) *Response {
	t.Helper()
	return c.Post(t, chalURL, []byte("{}"))
}

// Validate answers a challenge of each pending authorization of the order
// (dns-01 for wildcards, http-01 otherwise) and returns the order as it is
// afterwards.
func (c *Client) Validate(t testing.TB, orderURL string) *Order {
	t.Helper()
	o := c.FetchOrder(t, orderURL)
	for _, authzURL := range o.Authorizations {
		a := c.FetchAuthz(t, authzURL)
		if a.Status != "pending" {
			continue
		}
		typ := "http-01"
		if a.Wildcard {
			typ = "dns-01"
		}
		c.Respond(t, ChallengeOf(t, a, typ).URL).Want(t, http.StatusOK)
	}
	return c.FetchOrder(t, orderURL)
}

// ReadyOrder creates an order for names and validates it; the order must
// end up ready.
func (c *Client) ReadyOrder(t testing.TB, names ...string) (string, *Order) {
	t.Helper()
	url, _ := c.NewOrder(t, names...)
	o := c.Validate(t, url)
	if o.Status != "ready" {
		t.Fatalf("order %s: got status %q after validation, want ready", url, o.Status)
	}
	return url, o
}

// Finalize submits csrDER to the order's finalize URL.
func (c *Client) Finalize(t testing.TB, o *Order, csrDER []byte) *Response {
	t.Helper()
	return c.PostJSON(t, o.Finalize, map[string]string{
		"csr": base64.RawURLEncoding.EncodeToString(csrDER),
	})
}

// Issued is a certificate obtained through the whole flow.
type Issued struct {
	OrderURL string
	Order    *Order
	CertURL  string
	Key      crypto.Signer
	Cert     *x509.Certificate
	// PEM is the chain as downloaded.
	PEM []byte
}

// Issue runs the whole flow for the dns names with a fresh P-256
// certificate key and downloads the certificate.
func (c *Client) Issue(t testing.TB, names ...string) *Issued {
	t.Helper()
	url, o := c.ReadyOrder(t, names...)
	key := NewKey(t, jose.ES256)
	r := c.Finalize(t, o, CSR(t, key, names, nil)).Want(t, http.StatusOK)
	var done Order
	r.JSON(t, &done)
	if done.Status != "valid" || done.Certificate == "" {
		t.Fatalf("finalize: got status %q and certificate %q, want valid with a URL",
			done.Status, done.Certificate)
	}
	chain := c.PostAsGet(t, done.Certificate).Want(t, http.StatusOK).Body
	block, _ := pem.Decode(chain)
	if block == nil {
		t.Fatalf("certificate download holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("parsing the issued certificate: %v", err)
	}
	return &Issued{OrderURL: url, Order: &done, CertURL: done.Certificate, Key: key, Cert: cert,
		PEM: chain}
}

// CSR returns a DER certificate request for names signed by key; names that
// parse as IP addresses become IP SANs. edit, when not nil, changes the
// template first.
func CSR(t testing.TB, key crypto.Signer, names []string, edit func(*x509.CertificateRequest)) []byte {
	t.Helper()
	tmpl := &x509.CertificateRequest{}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			continue
		}
		tmpl.DNSNames = append(tmpl.DNSNames, n)
	}
	if edit != nil {
		edit(tmpl)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatalf("creating a CSR: %v", err)
	}
	return der
}
