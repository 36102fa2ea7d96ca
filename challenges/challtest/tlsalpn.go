package challtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// alpnProtocol is the protocol name of tls-alpn-01 (RFC 8737, Section 6.2).
const alpnProtocol = "acme-tls/1"

var (
	// oidACMEIdentifier is id-pe-acmeIdentifier (RFC 8737, Section 6.1).
	oidACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}
	// oidACMEIdentifierV1 is the OID of a pre-standard draft, which
	// validators must not accept.
	oidACMEIdentifierV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 30, 1}
)

// CertSpec describes a tls-alpn-01 response certificate. The zero value
// except Names and KeyAuthorization is a correct certificate; each other
// field breaks one rule of RFC 8737, Section 3, for negative tests.
type CertSpec struct {
	// Names are the subjectAltName entries: IP literals become iPAddress
	// entries, anything else a dNSName.
	Names []string
	// KeyAuthorization is hashed with SHA-256 into the acmeIdentifier
	// extension.
	KeyAuthorization string
	// ExtensionValue, when non-nil, is used as the raw extension value
	// instead of the DER OCTET STRING holding the digest.
	ExtensionValue []byte
	// NonCritical marks the acmeIdentifier extension non-critical.
	NonCritical bool
	// OmitExtension leaves the acmeIdentifier extension out.
	OmitExtension bool
	// DuplicateExtension puts the acmeIdentifier extension in twice.
	DuplicateExtension bool
	// ObsoleteOID uses the pre-standard OID 1.3.6.1.5.5.7.1.30.1.
	ObsoleteOID bool
	// NotSelfSigned has the certificate signed by a throwaway CA.
	NotSelfSigned bool
}

// NewALPNCertificate makes a certificate and key as spec says, with a fresh
// P-256 key, valid from an hour ago for a day.
func NewALPNCertificate(t testing.TB, spec CertSpec) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("challtest: generating key: %v", err)
	}
	tmpl := template(t, "challtest tls-alpn-01")
	for _, n := range spec.Names {
		if ip, err := netip.ParseAddr(n); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	if !spec.OmitExtension {
		tmpl.ExtraExtensions = acmeExtensions(t, spec)
	}

	parent, signer := tmpl, key
	if spec.NotSelfSigned {
		parent = template(t, "challtest CA")
		parent.IsCA, parent.BasicConstraintsValid = true, true
		parent.KeyUsage = x509.KeyUsageCertSign
		if signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			t.Fatalf("challtest: generating CA key: %v", err)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatalf("challtest: creating tls-alpn-01 certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func template(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatalf("challtest: generating serial: %v", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
	}
}

func acmeExtensions(t testing.TB, spec CertSpec) []pkix.Extension {
	t.Helper()
	value := spec.ExtensionValue
	if value == nil {
		digest := sha256.Sum256([]byte(spec.KeyAuthorization))
		var err error
		if value, err = asn1.Marshal(digest[:]); err != nil {
			t.Fatalf("challtest: encoding acmeIdentifier: %v", err)
		}
	}
	ext := pkix.Extension{Id: oidACMEIdentifier, Critical: !spec.NonCritical, Value: value}
	if spec.ObsoleteOID {
		ext.Id = oidACMEIdentifierV1
	}
	if spec.DuplicateExtension {
		return []pkix.Extension{ext, ext}
	}
	return []pkix.Extension{ext}
}

// TLSALPNServer answers tls-alpn-01 challenges: it completes TLS handshakes
// that offer acme-tls/1, presenting the certificate set for the SNI name,
// then closes the connection (RFC 8737, Section 3).
type TLSALPNServer struct {
	t    testing.TB
	ln   net.Listener
	done sync.WaitGroup

	mu          sync.Mutex
	certs       map[string]tls.Certificate
	protos      []string
	maxVersion  uint16
	serverNames []string
}

// NewTLSALPNServer starts a tls-alpn-01 responder on a random port of
// 127.0.0.1.
func NewTLSALPNServer(t testing.TB) *TLSALPNServer {
	t.Helper()
	return NewTLSALPNServerAt(t, "127.0.0.1:0")
}

// NewTLSALPNServerAt starts a tls-alpn-01 responder listening on addr.
func NewTLSALPNServerAt(t testing.TB, addr string) *TLSALPNServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("challtest: tls-alpn-01 server listening on %s: %v", addr, err)
	}
	s := &TLSALPNServer{
		t:      t,
		ln:     ln,
		certs:  make(map[string]tls.Certificate),
		protos: []string{alpnProtocol},
	}
	s.done.Go(s.serve)
	t.Cleanup(func() {
		ln.Close()
		s.done.Wait()
	})
	return s
}

func (s *TLSALPNServer) serve() {
	cfg := &tls.Config{GetConfigForClient: s.configFor}
	for {
		conn, err := s.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		s.done.Go(func() {
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
			_ = tls.Server(conn, cfg).Handshake()
		})
	}
}

// configFor picks the certificate for the client's SNI name.
func (s *TLSALPNServer) configFor(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serverNames = append(s.serverNames, hello.ServerName)
	cert, ok := s.certs[strings.ToLower(hello.ServerName)]
	if !ok {
		return nil, fmt.Errorf("challtest: no certificate for %q", hello.ServerName)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   s.protos,
		MinVersion:   tls.VersionTLS10,
		MaxVersion:   s.maxVersion,
	}, nil
}

// Addr returns the listening address as host:port.
func (s *TLSALPNServer) Addr() string { return s.ln.Addr().String() }

// Port returns the listening port.
func (s *TLSALPNServer) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Set serves a correct response certificate for host (a DNS name or an IP
// address) and keyAuth. Call it from the test's goroutine: it fails the test
// if the certificate cannot be made.
func (s *TLSALPNServer) Set(host, keyAuth string) {
	s.t.Helper()
	s.SetCertificate(host, NewALPNCertificate(s.t, CertSpec{
		Names:            []string{host},
		KeyAuthorization: keyAuth,
	}))
}

// SetCertificate serves cert to clients asking for host. For an IP address
// the SNI name is its reverse-DNS name (RFC 8738, Section 6).
func (s *TLSALPNServer) SetCertificate(host string, cert tls.Certificate) {
	name := strings.ToLower(host)
	if _, err := netip.ParseAddr(host); err == nil {
		arpa, _ := dns.ReverseAddr(host)
		name = strings.TrimSuffix(arpa, ".")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs[name] = cert
}

// SetALPN replaces the protocols the server accepts, by default only
// acme-tls/1. With none the server negotiates no protocol.
func (s *TLSALPNServer) SetALPN(protos ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.protos = protos
}

// SetMaxVersion caps the TLS version the server speaks, e.g.
// tls.VersionTLS11; zero means the default maximum.
func (s *TLSALPNServer) SetMaxVersion(v uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxVersion = v
}

// ServerNames returns the SNI names of the handshakes so far, in order.
func (s *TLSALPNServer) ServerNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.serverNames...)
}
