package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
)

// The benchmarks below measure the hot paths of issuance through the real
// front end, state machine and SQLite store (synchronous=FULL), over
// loopback HTTP: each includes JWS signing by the client, verification,
// the nonce and the store transaction. Nonces are kept in memory, as
// `acmegate serve` on SQLite keeps them. integration/bench measures whole
// issuances against a running gateway.

func benchGateway(b *testing.B) (*acmetest.Gateway, *acmetest.Client) {
	b.Helper()
	gw := acmetest.New(b, acmetest.Options{MemoryNonces: true})
	c := gw.NewClient(b, jose.ES256)
	c.Register(b)
	return gw, c
}

// BenchmarkNewOrder creates one order with one identifier per iteration.
// An account may hold only so many pending orders (acme.max_pending_orders,
// 300 by default), so a new account takes over every 250 orders, its
// registration outside the timer.
func BenchmarkNewOrder(b *testing.B) {
	gw, c := benchGateway(b)
	i := 0
	for b.Loop() {
		i++
		if i%250 == 0 {
			b.StopTimer()
			c = gw.NewClient(b, jose.ES256)
			c.Register(b)
			b.StartTimer()
		}
		c.NewOrder(b, fmt.Sprintf("n%d.bench.corp.internal", i))
	}
}

// BenchmarkFinalize checks a CSR, signs and stores one certificate per
// iteration; the orders are made ready outside the timer.
func BenchmarkFinalize(b *testing.B) {
	_, c := benchGateway(b)
	key := acmetest.NewKey(b, jose.ES256)
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		name := fmt.Sprintf("f%d.bench.corp.internal", i)
		_, o := c.ReadyOrder(b, name)
		csr := acmetest.CSR(b, key, []string{name}, nil)
		b.StartTimer()
		c.Finalize(b, o, csr).Want(b, http.StatusOK)
	}
}

// BenchmarkCertificateDownload fetches one issued certificate with its
// chain per iteration (POST-as-GET).
func BenchmarkCertificateDownload(b *testing.B) {
	_, c := benchGateway(b)
	is := c.Issue(b, "dl.bench.corp.internal")
	for b.Loop() {
		c.PostAsGet(b, is.CertURL).Want(b, http.StatusOK)
	}
}

// BenchmarkNewNonce fetches a nonce with HEAD new-nonce per iteration.
func BenchmarkNewNonce(b *testing.B) {
	gw, c := benchGateway(b)
	_ = c
	for b.Loop() {
		gw.FreshNonce(b)
	}
}
