package ca

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"time"
)

// oidAnyPolicy is anyPolicy, RFC 5280, Section 4.2.1.4.
var oidAnyPolicy = mustOID(2, 5, 29, 32, 0)

// mustOID builds a constant OID; it panics only on a programming error.
func mustOID(arcs ...uint64) x509.OID {
	oid, err := x509.OIDFromInts(arcs)
	if err != nil {
		panic(fmt.Sprintf("ca: bad constant OID %v: %v", arcs, err))
	}
	return oid
}

// caSubject builds the distinguished name of a CA certificate.
func caSubject(country, organization, commonName string) pkix.Name {
	name := pkix.Name{CommonName: commonName}
	if country != "" {
		name.Country = []string{country}
	}
	if organization != "" {
		name.Organization = []string{organization}
	}
	return name
}

// caBackdate moves the notBefore of CA certificates into the past, so
// that clients whose clocks lag the gateway's accept a PKI created moments
// ago.
const caBackdate = time.Hour

// caValidity starts caBackdate before now, to the second, and ends
// validity later.
func caValidity(now time.Time, validity time.Duration) (time.Time, time.Time) {
	notBefore := now.Add(-caBackdate).Truncate(time.Second)
	return notBefore, notBefore.Add(validity)
}

// rootTemplate is the self-signed root, CA/B Forum Baseline Requirements,
// Section 7.1.2.1: CA with no path length constraint, keyCertSign and
// cRLSign, no extended key usage, no policies, and an authority key
// identifier equal to its subject key identifier.
func rootTemplate(opts CeremonyOptions, pub crypto.PublicKey) (*x509.Certificate, error) {
	serial, err := NewSerial(opts.Rand)
	if err != nil {
		return nil, err
	}
	keyID, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := caValidity(opts.Now, opts.RootValidity)
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               caSubject(opts.Country, opts.Organization, opts.RootCommonName),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID,
		AuthorityKeyId:        keyID,
	}, nil
}

// intermediateTemplate is the online subordinate CA, CA/B Forum Baseline
// Requirements, Section 7.1.2.10: path length 0, digitalSignature (for
// OCSP), keyCertSign and cRLSign, TLS extended key usages, anyPolicy, and
// critical name constraints when configured. The authority key identifier
// is copied from the root by x509.CreateCertificate.
func intermediateTemplate(
	opts CeremonyOptions,
	pub crypto.PublicKey,
) (*x509.Certificate, error) {
	serial, err := NewSerial(opts.Rand)
	if err != nil {
		return nil, err
	}
	keyID, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	notBefore, notAfter := caValidity(opts.Now, opts.IntermediateValidity)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: caSubject(opts.Country, opts.Organization,
			opts.IntermediateCommonName),
		NotBefore: notBefore,
		NotAfter:  notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign |
			x509.KeyUsageCRLSign,
		ExtKeyUsage:           opts.IntermediateExtKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID,
		Policies:              []x509.OID{oidAnyPolicy},
		PermittedDNSDomains:   opts.PermittedDNSDomains,
		ExcludedDNSDomains:    opts.ExcludedDNSDomains,
		PermittedIPRanges:     opts.PermittedIPRanges,
		ExcludedIPRanges:      opts.ExcludedIPRanges,
	}
	// RFC 5280, Section 4.2.1.10: conforming CAs MUST mark this extension
	// as critical.
	tmpl.PermittedDNSDomainsCritical = opts.hasNameConstraints()
	if opts.RootCRLURL != "" {
		tmpl.CRLDistributionPoints = []string{opts.RootCRLURL}
	}
	if opts.RootCertURL != "" {
		tmpl.IssuingCertificateURL = []string{opts.RootCertURL}
	}
	return tmpl, nil
}

// subjectKeyID derives a key identifier from the subjectPublicKey bits
// with SHA-256 truncated to 160 bits, RFC 7093, Section 2, method 1.
func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("marshaling public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if err := unmarshalStrict(der, &spki); err != nil {
		return nil, fmt.Errorf("parsing public key: %w", err)
	}
	sum := sha256.Sum256(spki.PublicKey.Bytes)
	return sum[:20], nil
}

// signCA signs tmpl with parent's key and parses the result.
func signCA(
	tmpl, parent *x509.Certificate,
	pub crypto.PublicKey,
	parentKey crypto.Signer,
	random io.Reader,
) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(random, tmpl, parent, pub, parentKey)
	if err != nil {
		return nil, fmt.Errorf("signing %q: %w", tmpl.Subject, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing %q: %w", tmpl.Subject, err)
	}
	return cert, nil
}

// hasNameConstraints reports whether any name constraint is configured.
func (o CeremonyOptions) hasNameConstraints() bool {
	return len(o.PermittedDNSDomains) > 0 || len(o.ExcludedDNSDomains) > 0 ||
		len(o.PermittedIPRanges) > 0 || len(o.ExcludedIPRanges) > 0
}
