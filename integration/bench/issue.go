package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/go-acme/lego/v4/acme"
)

// nameSource gives each issuance its own identifier, unique across runs
// against the same server so that no authorization can be reused.
type nameSource struct {
	runID  string
	domain string
	ipOnly bool
}

func newNameSource(opts options) (nameSource, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nameSource{}, fmt.Errorf("choosing a run ID: %w", err)
	}
	return nameSource{runID: hex.EncodeToString(b), domain: opts.domain, ipOnly: opts.ipOnly}, nil
}

// name returns the identifier of issuance i.
func (s nameSource) name(i int) string {
	if s.ipOnly {
		return "127.0.0.1"
	}
	return fmt.Sprintf("i%d-%s.%s", i, s.runID, s.domain)
}

// stepError names the step of the issuance that failed.
type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

func fail(step string, err error) error { return &stepError{step: step, err: err} }

// Phases of an issuance, timed separately to show where time goes.
const (
	phaseNewOrder  = iota // the newOrder request
	phaseAuthorize        // fetching authorizations, answering and polling
	phaseFinalize         // CSR, finalize request and order polling
	phaseDownload         // the certificate download
	numPhases
)

// issuance is the measurement of one successful issuance.
type issuance struct {
	total  time.Duration // newOrder request to certificate downloaded
	phases [numPhases]time.Duration
	polls  int // authorization and order polls, beyond the required requests
	// requests is the number of HTTP requests sent, in lego mode only,
	// where phases and polls are not seen.
	requests int
}

// issue runs one issuance for the name of index i. The chain is checked
// after the clock stops.
func (c *client) issue(ctx context.Context, i int) (issuance, error) {
	var m issuance
	name := c.names.name(i)
	start := time.Now()
	lap := start
	mark := func(phase int) {
		now := time.Now()
		m.phases[phase] = now.Sub(lap)
		lap = now
	}

	// 1. A new order, and validation of each of its authorizations.
	order, err := c.core.Orders.New([]string{name})
	if err != nil {
		return m, fail("new order", err)
	}
	mark(phaseNewOrder)
	for _, authzURL := range order.Authorizations {
		if err := c.authorize(ctx, authzURL, &m.polls); err != nil {
			return m, err
		}
	}
	mark(phaseAuthorize)

	// 2. Finalize with a fresh key, then wait for the certificate URL.
	key, csr, err := newCSR(name)
	if err != nil {
		return m, fail("csr", err)
	}
	final, err := c.core.Orders.UpdateForCSR(order.Finalize, csr)
	if err != nil {
		return m, fail("finalize", err)
	}
	certURL, err := c.awaitCertificate(ctx, order.Location, final.Order, &m.polls)
	if err != nil {
		return m, err
	}
	mark(phaseFinalize)

	// 3. Download.
	chainPEM, _, err := c.core.Certificates.Get(certURL, true)
	if err != nil {
		return m, fail("download", err)
	}
	mark(phaseDownload)
	m.total = time.Since(start)

	if err := verifyChain(chainPEM, c.roots, name, &key.PublicKey); err != nil {
		return m, fail("verify", err)
	}
	return m, nil
}

// authorize answers the http-01 challenge of one authorization and polls
// it until it is valid, counting its polls in polls.
func (c *client) authorize(ctx context.Context, authzURL string, polls *int) error {
	authz, err := c.core.Authorizations.Get(authzURL)
	if err != nil {
		return fail("get authorization", err)
	}
	if authz.Status == acme.StatusValid {
		return nil
	}
	chal, ok := findChallenge(authz, "http-01")
	if !ok {
		return fail("get authorization", errors.New("no http-01 challenge offered"))
	}
	keyAuth, err := c.core.GetKeyAuthorization(chal.Token)
	if err != nil {
		return fail("key authorization", err)
	}
	c.http01.put(chal.Token, keyAuth)
	defer c.http01.remove(chal.Token)

	answered, err := c.core.Challenges.New(chal.URL)
	if err != nil {
		return fail("answer challenge", err)
	}
	if answered.Status == acme.StatusValid {
		// A valid challenge makes its authorization valid (RFC 8555,
		// Section 7.1.6), so there is nothing to poll.
		return nil
	}
	return c.pollAuthorization(ctx, authzURL, answered.RetryAfter, polls)
}

// pollAuthorization waits until the authorization leaves pending.
func (c *client) pollAuthorization(
	ctx context.Context,
	authzURL, firstRetryAfter string,
	polls *int,
) error {
	delay := c.clampDelay(parseRetryAfter(firstRetryAfter))
	for {
		if err := sleep(ctx, delay); err != nil {
			return fail("poll authorization", err)
		}
		*polls++
		authz, err := c.core.Authorizations.Get(authzURL)
		if err != nil {
			return fail("poll authorization", err)
		}
		switch authz.Status {
		case acme.StatusValid:
			return nil
		case acme.StatusPending, acme.StatusProcessing:
			delay = c.pollDelay()
		default:
			return fail("poll authorization", authzError(authz))
		}
	}
}

// awaitCertificate polls the order after finalize until it is valid and
// returns its certificate URL.
func (c *client) awaitCertificate(
	ctx context.Context,
	orderURL string,
	o acme.Order,
	polls *int,
) (string, error) {
	for {
		switch o.Status {
		case acme.StatusValid:
			if o.Certificate == "" {
				return "", fail("poll order", errors.New("valid order without certificate URL"))
			}
			return o.Certificate, nil
		case acme.StatusProcessing, acme.StatusReady, acme.StatusPending:
		default:
			return "", fail("poll order", fmt.Errorf("order is %s: %v", o.Status, o.Err()))
		}
		if err := sleep(ctx, c.pollDelay()); err != nil {
			return "", fail("poll order", err)
		}
		*polls++
		got, err := c.core.Orders.Get(orderURL)
		if err != nil {
			return "", fail("poll order", err)
		}
		o = got.Order
	}
}

func findChallenge(authz acme.Authorization, typ string) (acme.Challenge, bool) {
	for _, ch := range authz.Challenges {
		if ch.Type == typ {
			return ch, true
		}
	}
	return acme.Challenge{}, false
}

// authzError describes an authorization that did not become valid, with
// the problem of its failed challenge when there is one.
func authzError(authz acme.Authorization) error {
	for _, ch := range authz.Challenges {
		if ch.Error != nil {
			return fmt.Errorf("authorization is %s: %v", authz.Status, ch.Error)
		}
	}
	return fmt.Errorf("authorization is %s", authz.Status)
}

// newCSR makes a P-256 key and a DER CSR for name.
func newCSR(name string) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.Subject = pkix.Name{}
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, nil, err
	}
	return key, csr, nil
}

// verifyChain checks that the PEM chain's leaf carries pub, is valid for
// name, and chains to roots through the intermediates that follow it.
func verifyChain(chainPEM []byte, roots *x509.CertPool, name string, pub *ecdsa.PublicKey) error {
	var certs []*x509.Certificate
	for rest := chainPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("parsing certificate %d: %w", len(certs), err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return errors.New("no certificate in the download")
	}
	leaf := certs[0]
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || !k.Equal(pub) {
		return errors.New("leaf does not carry the key of the CSR")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		DNSName:       name,
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return err
	}
	if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
		return errors.New("leaf is self-issued")
	}
	return nil
}
