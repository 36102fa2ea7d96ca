package ca

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestIssueServerCertificate(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	key := newECKey(t)
	hosts := []string{"acme.example.com", "127.0.0.1", "::1"}
	tlsCert, err := p.issuer.IssueServerCertificate(hosts, key, 30*24*time.Hour, testNow,
		rand.Reader)
	if err != nil {
		t.Fatalf("IssueServerCertificate: %v", err)
	}
	leaf := tlsCert.Leaf
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"chain length", len(tlsCert.Certificate), 2},
		{"second is intermediate", string(tlsCert.Certificate[1]), string(p.issuer.Certificate.Raw)},
		{"leaf DER", string(tlsCert.Certificate[0]), string(leaf.Raw)},
		{"DNS names", leaf.DNSNames, []string{"acme.example.com"}},
		{"IPs", ipStrings(leaf.IPAddresses), []string{"127.0.0.1", "::1"}},
		{"EKU", leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}},
		{"lifetime", span(leaf), 30 * 24 * time.Hour},
		{"private key", tlsCert.PrivateKey, any(key)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalish(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}

	// A real handshake over an in-memory pipe, with the root as the only
	// trust anchor and the clock at issuance time.
	for _, serverName := range []string{"acme.example.com", "127.0.0.1"} {
		t.Run("handshake "+serverName, func(t *testing.T) {
			roots := x509.NewCertPool()
			roots.AddCert(p.issuer.Root)
			clientConn, serverConn := net.Pipe()
			defer clientConn.Close()
			defer serverConn.Close()
			clock := func() time.Time { return testNow.Add(time.Hour) }
			server := tls.Server(serverConn, &tls.Config{
				Certificates: []tls.Certificate{tlsCert},
				Time:         clock,
			})
			client := tls.Client(clientConn, &tls.Config{
				RootCAs:    roots,
				ServerName: serverName,
				Time:       clock,
			})
			errc := make(chan error, 1)
			go func() { errc <- server.Handshake() }()
			if err := client.Handshake(); err != nil {
				t.Errorf("client handshake: got %v, want nil", err)
			}
			clientConn.Close()
			<-errc
		})
	}
}

func TestIssueServerCertificateErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		hosts    []string
		lifetime time.Duration
		now      time.Time
	}{
		{"no hosts", nil, time.Hour, testNow},
		{"no time", []string{"a.example.com"}, time.Hour, time.Time{}},
		{"too long", []string{"a.example.com"}, 400 * 24 * time.Hour, testNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sharedPKI.issuer.IssueServerCertificate(tt.hosts, newECKey(t),
				tt.lifetime, tt.now, nil)
			if err == nil {
				t.Errorf("IssueServerCertificate: got success, want an error")
			}
		})
	}
}
