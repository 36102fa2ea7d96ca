package integration

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/acme"
	"github.com/go-acme/lego/v4/certcrypto"
	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/challenge/dns01"
	"github.com/go-acme/lego/v4/lego"
	"github.com/go-acme/lego/v4/registration"

	"github.com/acmegate/acmegate/challenges/challtest"
)

// Challenge types, as lego clients are configured with them.
const (
	challHTTP01    = "http-01"
	challDNS01     = "dns-01"
	challTLSALPN01 = "tls-alpn-01"
)

// problemURN is the prefix of ACME error types.
const problemURN = "urn:ietf:params:acme:error:"

// legoUser is the registration.User of a lego client.
type legoUser struct {
	key crypto.PrivateKey
	reg *registration.Resource
}

func (u *legoUser) GetEmail() string                        { return "" }
func (u *legoUser) GetRegistration() *registration.Resource { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.PrivateKey        { return u.key }

// http01Provider publishes key authorizations on the gateway's http-01
// responder.
type http01Provider struct{ srv *challtest.HTTP01Server }

func (p http01Provider) Present(_, token, keyAuth string) error {
	p.srv.Set(token, keyAuth)
	return nil
}

func (p http01Provider) CleanUp(_, token, _ string) error {
	p.srv.Delete(token)
	return nil
}

// tlsALPNProvider serves acme-tls/1 certificates on the gateway's
// tls-alpn-01 responder.
type tlsALPNProvider struct{ srv *challtest.TLSALPNServer }

func (p tlsALPNProvider) Present(domain, _, keyAuth string) error {
	p.srv.Set(domain, keyAuth)
	return nil
}

func (p tlsALPNProvider) CleanUp(string, string, string) error { return nil }

// dns01Provider publishes TXT records in the gateway's DNS server. It keeps
// every value presented for a name, because a wildcard and its base name
// share one _acme-challenge name with two values.
type dns01Provider struct {
	srv *challtest.DNSServer

	mu     sync.Mutex
	values map[string][]string // _acme-challenge FQDN → TXT values
}

func newDNS01Provider(srv *challtest.DNSServer) *dns01Provider {
	return &dns01Provider{srv: srv, values: make(map[string][]string)}
}

func (p *dns01Provider) Present(domain, _, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.values[info.FQDN] = append(p.values[info.FQDN], info.Value)
	p.srv.SetTXT(info.FQDN, p.values[info.FQDN]...)
	return nil
}

func (p *dns01Provider) CleanUp(domain, _, keyAuth string) error {
	info := dns01.GetChallengeInfo(domain, keyAuth)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.values[info.FQDN] = slices.DeleteFunc(p.values[info.FQDN],
		func(v string) bool { return v == info.Value })
	p.srv.SetTXT(info.FQDN, p.values[info.FQDN]...)
	return nil
}

// Timeout makes lego poll our DNS server quickly instead of the default
// 2-second interval.
func (p *dns01Provider) Timeout() (timeout, interval time.Duration) {
	return 10 * time.Second, 20 * time.Millisecond
}

// txtPropagated is lego's propagation check, pointed at our DNS server as
// the recursive resolver. (dns01.AddRecursiveNameservers would set a
// process-wide variable that parallel tests, each with its own DNS server,
// would race on; and the authoritative check would go to port 53 of the
// names' nameservers, which do not exist.)
func txtPropagated(dnsAddr string) dns01.ChallengeOption {
	res := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, dnsAddr)
		},
	}
	return dns01.WrapPreCheck(func(_, fqdn, value string, _ dns01.PreCheckFunc) (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		values, err := res.LookupTXT(ctx, fqdn)
		if err != nil {
			return false, nil // not there yet: lego polls again until its timeout
		}
		return slices.Contains(values, value), nil
	})
}

// newLegoClient returns a lego client of g for key with solvers for the
// given challenge types only (lego picks the first challenge the server
// offers that it can solve). The account is not registered yet.
func newLegoClient(
	t *testing.T,
	g *gateway,
	key crypto.PrivateKey,
	challengeTypes ...string,
) (*lego.Client, *legoUser) {
	t.Helper()
	user := &legoUser{key: key}
	cfg := lego.NewConfig(user)
	cfg.CADirURL = g.DirectoryURL
	cfg.HTTPClient = g.HTTPClient()
	cfg.UserAgent = "acmegate-integration"
	cfg.Certificate.KeyType = certcrypto.EC256
	cfg.Certificate.Timeout = 30 * time.Second
	client, err := lego.NewClient(cfg)
	if err != nil {
		t.Fatalf("lego.NewClient: %v", err)
	}
	for _, ct := range challengeTypes {
		switch ct {
		case challHTTP01:
			err = client.Challenge.SetHTTP01Provider(http01Provider{g.HTTP01})
		case challDNS01:
			err = client.Challenge.SetDNS01Provider(newDNS01Provider(g.DNS),
				dns01.DisableAuthoritativeNssPropagationRequirement(),
				txtPropagated(g.DNS.Addr()))
		case challTLSALPN01:
			err = client.Challenge.SetTLSALPN01Provider(tlsALPNProvider{g.TLSALPN})
		default:
			t.Fatalf("unknown challenge type %q", ct)
		}
		if err != nil {
			t.Fatalf("setting the %s provider: %v", ct, err)
		}
	}
	return client, user
}

// newRegisteredLegoClient is [newLegoClient] with a fresh P-256 account key,
// registered with the terms of service agreed.
func newRegisteredLegoClient(
	t *testing.T,
	g *gateway,
	challengeTypes ...string,
) (*lego.Client, *legoUser) {
	t.Helper()
	client, user := newLegoClient(t, g, newKey(t), challengeTypes...)
	reg, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	if err != nil {
		t.Fatalf("registering: %v", err)
	}
	if reg.Body.Status != "valid" {
		t.Errorf("account status: got %q, want valid", reg.Body.Status)
	}
	user.reg = reg
	return client, user
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating key: %v", err)
	}
	return key
}

// pointAt makes every DNS name among ids (wildcards by their base name)
// resolve to 127.0.0.1, where the responders listen.
func pointAt(g *gateway, ids ...string) {
	for _, id := range ids {
		if net.ParseIP(id) != nil {
			continue
		}
		if len(id) > 2 && id[:2] == "*." {
			id = id[2:]
		}
		g.DNS.SetA(id, "127.0.0.1")
	}
}

// obtain runs lego's Obtain with the chain bundled and logs how long it
// took.
func obtain(t *testing.T, client *lego.Client, req certificate.ObtainRequest) *certificate.Resource {
	t.Helper()
	req.Bundle = true
	start := time.Now()
	res, err := client.Certificate.Obtain(req)
	if err != nil {
		t.Fatalf("Obtain(%q): %v", req.Domains, err)
	}
	t.Logf("Obtain(%q) took %v", req.Domains, time.Since(start).Round(time.Millisecond))
	return res
}

// checkLegoResource checks an Obtain result: the bundle is the leaf and the
// intermediate, and IssuerCertificate is that intermediate.
func checkLegoResource(
	t *testing.T,
	g *gateway,
	res *certificate.Resource,
	issuedAfter time.Time,
	want wantCert,
) *x509.Certificate {
	t.Helper()
	leaf := checkChainPEM(t, g, res.Certificate, issuedAfter, want)
	issuer, err := parseOneCertificate(res.IssuerCertificate)
	if err != nil {
		t.Fatalf("IssuerCertificate: %v", err)
	}
	if err := leaf.CheckSignatureFrom(issuer); err != nil {
		t.Errorf("leaf signature by IssuerCertificate: %v", err)
	}
	return leaf
}

func TestLegoObtain(t *testing.T) {
	t.Parallel()
	g := startGateway(t)

	tests := []struct {
		name      string
		challenge string
		profile   string
		want      wantCert
	}{
		{name: "http-01", challenge: challHTTP01,
			want: wantCert{identifiers: []string{"web.test.internal", "app.test.internal"}}},
		{name: "dns-01", challenge: challDNS01,
			want: wantCert{identifiers: []string{"dns.test.internal"}}},
		{name: "wildcard dns-01", challenge: challDNS01,
			want: wantCert{identifiers: []string{"*.wild.test.internal", "wild.test.internal"}}},
		{name: "tls-alpn-01", challenge: challTLSALPN01,
			want: wantCert{identifiers: []string{"alpn.test.internal"}}},
		{name: "ip http-01", challenge: challHTTP01,
			want: wantCert{identifiers: []string{"127.0.0.1"}}},
		{name: "ip tls-alpn-01", challenge: challTLSALPN01,
			want: wantCert{identifiers: []string{"127.0.0.1"}}},
		{name: "dns and ip http-01", challenge: challHTTP01,
			want: wantCert{identifiers: []string{"mixed.test.internal", "127.0.0.1"}}},
		{name: "profile shortlived", challenge: challHTTP01, profile: "shortlived",
			want: wantCert{identifiers: []string{"short.test.internal"}, lifetime: shortLifetime}},
		{name: "profile mtls", challenge: challHTTP01, profile: "mtls",
			want: wantCert{identifiers: []string{"client.test.internal"},
				extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pointAt(g, tt.want.identifiers...)
			client, _ := newRegisteredLegoClient(t, g, tt.challenge)
			start := time.Now()
			res := obtain(t, client, certificate.ObtainRequest{
				Domains: tt.want.identifiers,
				Profile: tt.profile,
			})
			checkLegoResource(t, g, res, start, tt.want)
		})
	}
}

func TestLegoRevokeByAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	names := []string{"revoke.test.internal"}
	pointAt(g, names...)
	client, _ := newRegisteredLegoClient(t, g, challHTTP01)
	start := time.Now()
	res := obtain(t, client, certificate.ObtainRequest{Domains: names})
	checkLegoResource(t, g, res, start, wantCert{identifiers: names})

	if err := client.Certificate.Revoke(res.Certificate); err != nil {
		t.Fatalf("first Revoke: %v", err)
	}
	err := client.Certificate.Revoke(res.Certificate)
	wantProblem(t, err, "alreadyRevoked", http.StatusBadRequest)
}

// wantProblem fails unless err carries an ACME problem of type
// problemURN+typ and, when status is not zero, that HTTP status.
func wantProblem(t *testing.T, err error, typ string, status int) {
	t.Helper()
	var pd *acme.ProblemDetails
	if !errors.As(err, &pd) {
		t.Fatalf("got error %v (%T), want an ACME problem %s", err, err, typ)
	}
	if pd.Type != problemURN+typ {
		t.Errorf("problem type: got %q (detail %q), want %q", pd.Type, pd.Detail, problemURN+typ)
	}
	if status != 0 && pd.HTTPStatus != status {
		t.Errorf("problem status: got %d, want %d", pd.HTTPStatus, status)
	}
}

func TestLegoRenewAndReplace(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	names := []string{"renew.test.internal", "www.renew.test.internal"}
	pointAt(g, names...)
	client, _ := newRegisteredLegoClient(t, g, challHTTP01)
	start := time.Now()
	first := obtain(t, client, certificate.ObtainRequest{Domains: names})
	firstLeaf := checkLegoResource(t, g, first, start, wantCert{identifiers: names})

	t.Run("renewal info", func(t *testing.T) {
		info, err := client.Certificate.GetRenewalInfo(certificate.RenewalInfoRequest{Cert: firstLeaf})
		if err != nil {
			t.Fatalf("GetRenewalInfo: %v", err)
		}
		w := info.SuggestedWindow
		if !w.Start.Before(w.End) {
			t.Errorf("suggested window: got start %v not before end %v", w.Start, w.End)
		}
		if w.Start.Before(firstLeaf.NotBefore) || w.End.After(firstLeaf.NotAfter) {
			t.Errorf("suggested window: got %v to %v, want within the validity %v to %v",
				w.Start, w.End, firstLeaf.NotBefore, firstLeaf.NotAfter)
		}
	})

	t.Run("renew", func(t *testing.T) {
		start := time.Now()
		res, err := client.Certificate.RenewWithOptions(*first, &certificate.RenewOptions{Bundle: true})
		if err != nil {
			t.Fatalf("RenewWithOptions: %v", err)
		}
		leaf := checkLegoResource(t, g, res, start, wantCert{identifiers: names})
		if leaf.SerialNumber.Cmp(firstLeaf.SerialNumber) == 0 {
			t.Errorf("renewed serial: got %x, the same as the first certificate's", leaf.SerialNumber)
		}
	})

	t.Run("replaces", func(t *testing.T) {
		certID, err := certificate.MakeARICertID(firstLeaf)
		if err != nil {
			t.Fatalf("MakeARICertID: %v", err)
		}
		start := time.Now()
		res := obtain(t, client, certificate.ObtainRequest{Domains: names, ReplacesCertID: certID})
		checkLegoResource(t, g, res, start, wantCert{identifiers: names})
	})

	t.Run("obtain for CSR", func(t *testing.T) {
		key := newKey(t)
		csrDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject:  pkix.Name{CommonName: names[0]},
			DNSNames: names,
		}, key)
		if err != nil {
			t.Fatalf("creating CSR: %v", err)
		}
		csr, err := x509.ParseCertificateRequest(csrDER)
		if err != nil {
			t.Fatalf("parsing CSR: %v", err)
		}
		start := time.Now()
		res, err := client.Certificate.ObtainForCSR(certificate.ObtainForCSRRequest{CSR: csr, Bundle: true})
		if err != nil {
			t.Fatalf("ObtainForCSR: %v", err)
		}
		leaf := checkLegoResource(t, g, res, start, wantCert{identifiers: names})
		if !key.PublicKey.Equal(leaf.PublicKey) {
			t.Errorf("leaf public key: got %T, want the CSR's key", leaf.PublicKey)
		}
	})
}
