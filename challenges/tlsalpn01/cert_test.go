package tlsalpn01_test

import (
	"crypto/sha256"
	"crypto/tls"
	"testing"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/tlsalpn01"
)

// TestCertificate covers the certificate rules of RFC 8737, Section 3, and
// the defects of SECURITY-CATALOGUE E6.
func TestCertificate(t *testing.T) {
	t.Parallel()
	digest := sha256.Sum256([]byte(keyAuth))
	run(t, []testCase{
		{
			name:  "correct",
			setup: cert(challtest.CertSpec{}),
		},
		{
			name:       "missing extension",
			setup:      cert(challtest.CertSpec{OmitExtension: true}),
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "lacks the acmeIdentifier extension 1.3.6.1.5.5.7.1.31",
		},
		{
			name:       "non-critical extension",
			setup:      cert(challtest.CertSpec{NonCritical: true}),
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "must be critical",
		},
		{
			name:       "obsolete OID",
			setup:      cert(challtest.CertSpec{ObsoleteOID: true}),
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "obsolete acmeValidationV1 OID 1.3.6.1.5.5.7.1.30.1",
		},
		{
			// Go's certificate parser refuses duplicated extensions, so
			// the handshake itself fails.
			name:       "duplicated extension",
			setup:      cert(challtest.CertSpec{DuplicateExtension: true}),
			wantKind:   challenges.KindTLS,
			wantDetail: "duplicate extension",
		},
		{
			name:       "wrong digest",
			setup:      cert(challtest.CertSpec{KeyAuthorization: token + ".other-account"}),
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "holds digest",
		},
		{
			name:       "digest without OCTET STRING",
			setup:      cert(challtest.CertSpec{ExtensionValue: digest[:]}),
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "not a DER OCTET STRING of 32 bytes",
		},
		{
			name:       "not self-signed",
			setup:      cert(challtest.CertSpec{NotSelfSigned: true}),
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "not self-signed",
		},
		{
			name:       "wrong name",
			setup:      cert(challtest.CertSpec{Names: []string{"b.test"}}),
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "must name only dns a.test in its subjectAltName; it has 1 entries: DNS:b.test",
		},
		{
			name:       "two names",
			setup:      cert(challtest.CertSpec{Names: []string{"a.test", "b.test"}}),
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "it has 2 entries",
		},
		{
			name:       "extra IP address",
			setup:      cert(challtest.CertSpec{Names: []string{"a.test", "127.0.0.1"}}),
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "DNS:a.test, IP:127.0.0.1",
		},
		{
			name:       "no subjectAltName",
			setup:      cert(challtest.CertSpec{Names: []string{}}),
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "it has 0 entries",
		},
		{
			// RFC 8738, Section 6: an IP identifier needs an iPAddress entry.
			name: "IP identifier named as dNSName",
			setup: func(t *testing.T, e *env) challenges.Request {
				e.tls.SetCertificate("127.0.0.1", challtest.NewALPNCertificate(t, challtest.CertSpec{
					Names:            []string{"1.0.0.127.in-addr.arpa"},
					KeyAuthorization: keyAuth,
				}))
				return request(challenges.IdentifierIP, "127.0.0.1")
			},
			wantKind:   challenges.KindUnauthorized,
			wantDetail: "must name only ip 127.0.0.1",
		},
		{
			name: "two certificates",
			setup: func(t *testing.T, e *env) challenges.Request {
				leaf := challtest.NewALPNCertificate(t, challtest.CertSpec{
					Names:            []string{"a.test"},
					KeyAuthorization: keyAuth,
				})
				extra := challtest.NewALPNCertificate(t, challtest.CertSpec{Names: []string{"x.test"}})
				leaf.Certificate = append(leaf.Certificate, extra.Certificate[0])
				e.tls.SetCertificate("a.test", leaf)
				return request(challenges.IdentifierDNS, "a.test")
			},
			wantKind:   challenges.KindIncorrectResponse,
			wantDetail: "presented 2 certificates, want exactly one",
		},
	})
}

// TestVerifyProtocol checks Verify on its own: a handshake without
// acme-tls/1 fails before any certificate is looked at.
func TestVerifyProtocol(t *testing.T) {
	t.Parallel()
	state := tls.ConnectionState{NegotiatedProtocol: "http/1.1"}
	err := tlsalpn01.Verify(state, challenges.Identifier{Type: "dns", Value: "a.test"}, keyAuth)
	challtest.WantError(t, err, challenges.KindTLS, `got "http/1.1"`)
}
