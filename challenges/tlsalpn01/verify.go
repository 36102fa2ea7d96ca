package tlsalpn01

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"net/netip"
	"strings"

	"github.com/acmegate/acmegate/challenges"
)

var (
	// OIDACMEIdentifier is id-pe-acmeIdentifier (RFC 8737, Section 6.1).
	OIDACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}
	// oidACMEIdentifierV1 is the OID of a pre-standard draft; a certificate
	// carrying it is refused (SECURITY-CATALOGUE E6).
	oidACMEIdentifierV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 30, 1}
	oidSubjectAltName   = asn1.ObjectIdentifier{2, 5, 29, 17}
)

// Verify checks a completed tls-alpn-01 handshake for id and keyAuth
// (RFC 8737, Section 3): acme-tls/1 was negotiated, exactly one self-signed
// certificate was presented, its only subjectAltName is the identifier (a
// dNSName, or an iPAddress for IP identifiers), and it has exactly one
// acmeIdentifier extension, marked critical, holding the DER OCTET STRING of
// SHA-256(keyAuth). It returns nil or a *challenges.Error: tls for the
// protocol, unauthorized for a certificate naming something else, and
// incorrectResponse for any other defect.
func Verify(state tls.ConnectionState, id challenges.Identifier, keyAuth string) error {
	if state.NegotiatedProtocol != ALPNProtocol {
		return challenges.Errorf(challenges.KindTLS,
			"the server did not negotiate %s (RFC 8737, Section 3): got %q",
			ALPNProtocol, challenges.Excerpt(state.NegotiatedProtocol, 32))
	}
	if n := len(state.PeerCertificates); n != 1 {
		return incorrect("the server presented %d certificates, want exactly one", n)
	}
	cert := state.PeerCertificates[0]

	// RFC 8737, Section 3: the client answers with a self-signed certificate.
	err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
	if err != nil {
		return incorrect("the certificate is not self-signed")
	}
	if err := checkSAN(cert, id); err != nil {
		return err
	}
	return checkACMEIdentifier(cert, keyAuth)
}

func incorrect(format string, args ...any) error {
	return challenges.Errorf(challenges.KindIncorrectResponse, format, args...)
}

// checkSAN requires the identifier as the one and only subjectAltName
// (RFC 8737, Section 3; RFC 8738, Section 6).
func checkSAN(cert *x509.Certificate, id challenges.Identifier) error {
	count := 0
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var names []asn1.RawValue
		if rest, err := asn1.Unmarshal(ext.Value, &names); err == nil && len(rest) == 0 {
			count += len(names)
		}
	}

	ok := count == 1
	if id.Type == challenges.IdentifierIP {
		want, _ := netip.ParseAddr(id.Value)
		got, valid := netip.Addr{}, len(cert.IPAddresses) == 1
		if valid {
			got, valid = netip.AddrFromSlice(cert.IPAddresses[0])
		}
		ok = ok && valid && got.Unmap() == want.Unmap()
	} else {
		ok = ok && len(cert.DNSNames) == 1 && strings.EqualFold(cert.DNSNames[0], id.Value)
	}
	if ok {
		return nil
	}
	return challenges.Errorf(challenges.KindUnauthorized,
		"the certificate must name only %s %s in its subjectAltName; it has %d entries: %s",
		id.Type, id.Value, count, describeSAN(cert))
}

// describeSAN lists the names a certificate carries, for error details.
func describeSAN(cert *x509.Certificate) string {
	var names []string
	for _, n := range cert.DNSNames {
		names = append(names, "DNS:"+n)
	}
	for _, ip := range cert.IPAddresses {
		names = append(names, "IP:"+ip.String())
	}
	for _, u := range cert.URIs {
		names = append(names, "URI:"+u.String())
	}
	for _, e := range cert.EmailAddresses {
		names = append(names, "email:"+e)
	}
	if len(names) > 4 {
		names = append(names[:4], fmt.Sprintf("and %d more", len(names)-4))
	}
	return challenges.Excerpt(strings.Join(names, ", "), 256)
}

// checkACMEIdentifier requires exactly one critical acmeIdentifier extension
// whose value is the DER OCTET STRING of SHA-256(keyAuth) (RFC 8737,
// Section 3).
func checkACMEIdentifier(cert *x509.Certificate, keyAuth string) error {
	var found []int
	for i, ext := range cert.Extensions {
		switch {
		case ext.Id.Equal(oidACMEIdentifierV1):
			return incorrect("the certificate uses the obsolete acmeValidationV1 OID %s, want %s",
				oidACMEIdentifierV1, OIDACMEIdentifier)
		case ext.Id.Equal(OIDACMEIdentifier):
			found = append(found, i)
		}
	}
	switch len(found) {
	case 0:
		return incorrect("the certificate lacks the acmeIdentifier extension %s", OIDACMEIdentifier)
	case 1:
	default:
		return incorrect("the certificate has %d acmeIdentifier extensions, want one", len(found))
	}

	ext := cert.Extensions[found[0]]
	if !ext.Critical {
		return incorrect("the acmeIdentifier extension must be critical (RFC 8737, Section 3)")
	}
	var digest []byte
	rest, err := asn1.Unmarshal(ext.Value, &digest)
	if err != nil || len(rest) != 0 || len(digest) != sha256.Size {
		return incorrect("the acmeIdentifier extension is not a DER OCTET STRING of %d bytes",
			sha256.Size)
	}
	want := sha256.Sum256([]byte(keyAuth))
	if !bytes.Equal(digest, want[:]) {
		return incorrect("the acmeIdentifier extension holds digest %x, want %x", digest, want)
	}
	return nil
}
