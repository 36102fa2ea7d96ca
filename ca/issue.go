package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"time"
)

// maxCommonNameLength is the upper bound of X520CommonName, RFC 5280,
// Appendix A.1.
const maxCommonNameLength = 64

// minRSABits is the smallest RSA modulus we certify, CA/B Forum Baseline
// Requirements, Section 6.1.5.
const minRSABits = 2048

// IssueRequest is everything [Issuer.Issue] needs for one leaf certificate.
// Identifiers come from the order, not from the CSR: the caller has
// already checked that the CSR asks for exactly the authorized names.
type IssueRequest struct {
	// CSR supplies the public key, its signature verified by [CheckCSR].
	// Its names and extensions are ignored.
	CSR *CheckedCSR
	// DNSNames are the DNS subject alternative names, in order.
	DNSNames []string
	// IPAddresses are the IP subject alternative names, in order.
	IPAddresses []net.IP
	// PermanentIdentifiers are device identifiers (RFC 4043) put into the
	// subject alternative names as otherName entries, for certificates of
	// device attestation orders.
	PermanentIdentifiers []PermanentIdentifier
	// HardwareModules are hardware module names (RFC 4108) put into the
	// subject alternative names as otherName entries.
	HardwareModules []HardwareModule
	// Serial is the serial number, allocated (and stored) by the caller,
	// normally with [NewTimedSerial] ([NewSerial] for CA certificates).
	Serial *big.Int
	// NotBefore and NotAfter are the requested validity; zero means
	// derived from Profile and Now.
	NotBefore, NotAfter time.Time
	// Profile shapes the certificate; zero fields take the defaults of
	// [Profile.WithDefaults].
	Profile Profile
	// Now is the current time; it must be set.
	Now time.Time
	// Rand is passed to the signer; nil means crypto/rand.Reader.
	Rand io.Reader
}

// Issue signs a leaf certificate for req and returns it parsed and as DER.
//
// The certificate has exactly the requested subject alternative names, the
// CSR's public key (RSA of at least 2048 bits, ECDSA P-256/P-384/P-521 or
// Ed25519), key usage digitalSignature (plus keyEncipherment for RSA), the
// profile's extended key usages, basic constraints CA=false, the
// intermediate's key identifier as authority key identifier and no subject
// key identifier (CA/B Forum Baseline Requirements, Section 7.1.2.7.6).
// The subject is empty, or holds only the first identifier as common name
// when the profile says so.
//
// Validity is whole seconds. Without a requested notAfter, notBefore is
// Now minus Profile.Backdate and notAfter - notBefore is exactly
// Profile.Lifetime. A requested notAfter may lie at most MaxLifetime after
// the requested notBefore (or after Now); notAfter - notBefore never
// exceeds MaxLifetime, and notAfter never passes the intermediate's. Note
// that RFC 5280, Section 4.1.2.5 counts both ends, so a certificate is
// valid one second longer than notAfter - notBefore.
//
// Errors wrap [ErrMissingTime], [ErrBadSerial], [ErrNoIdentifiers],
// [ErrBadCSR], [ErrUnsupportedKey], [ErrNameConstraint], [ErrValidity],
// [ErrLifetime] or [ErrOutlivesIssuer]; nothing is signed in those cases.
func (i *Issuer) Issue(req IssueRequest) (*x509.Certificate, []byte, error) {
	// 1. Check the request itself.
	profile, err := checkRequest(req)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing certificate: %w", err)
	}
	// 2. Refuse names the issuer may not certify, before signing anything.
	if err := i.checkNameConstraints(req.DNSNames, req.IPAddresses); err != nil {
		return nil, nil, fmt.Errorf("issuing certificate: %w", err)
	}
	// 3. Work out the validity period within profile and issuer limits.
	notBefore, notAfter, err := i.validity(req, profile)
	if err != nil {
		return nil, nil, fmt.Errorf("issuing certificate: %w", err)
	}
	// 4. Build and sign.
	tmpl := leafTemplate(req, profile, notBefore, notAfter)
	if len(req.PermanentIdentifiers) > 0 || len(req.HardwareModules) > 0 {
		ext, err := sanExtension(req.DNSNames, req.IPAddresses, req.PermanentIdentifiers,
			req.HardwareModules, len(tmpl.Subject.Names) == 0 && tmpl.Subject.CommonName == "")
		if err != nil {
			return nil, nil, fmt.Errorf("issuing certificate: %w", err)
		}
		tmpl.DNSNames, tmpl.IPAddresses = nil, nil
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	return i.sign(tmpl, req.CSR.PublicKey(), req.Rand)
}

// checkRequest validates the parts of req that do not depend on the issuer
// and returns the effective profile.
func checkRequest(req IssueRequest) (Profile, error) {
	profile := req.Profile.WithDefaults()
	if err := profile.Validate(); err != nil {
		return Profile{}, err
	}
	if req.Now.IsZero() {
		return Profile{}, ErrMissingTime
	}
	if err := checkSerial(req.Serial); err != nil {
		return Profile{}, err
	}
	if len(req.PermanentIdentifiers) == 0 && len(req.HardwareModules) == 0 {
		if err := checkIdentifiers(req.DNSNames, req.IPAddresses); err != nil {
			return Profile{}, err
		}
	}
	for _, p := range req.PermanentIdentifiers {
		if p.Value == "" {
			return Profile{}, fmt.Errorf("%w: empty permanent identifier", ErrNoIdentifiers)
		}
	}
	if !req.CSR.valid() {
		return Profile{}, fmt.Errorf("%w: no checked CSR", ErrBadCSR)
	}
	if err := checkLeafKey(req.CSR.PublicKey()); err != nil {
		return Profile{}, err
	}
	return profile, nil
}

// checkIdentifiers requires at least one identifier and no empty ones.
func checkIdentifiers(dnsNames []string, ips []net.IP) error {
	if len(dnsNames) == 0 && len(ips) == 0 {
		return ErrNoIdentifiers
	}
	for _, name := range dnsNames {
		if name == "" {
			return fmt.Errorf("%w: empty DNS name", ErrNoIdentifiers)
		}
	}
	for _, ip := range ips {
		if len(ip) != net.IPv4len && len(ip) != net.IPv6len {
			return fmt.Errorf("%w: malformed IP address", ErrNoIdentifiers)
		}
	}
	return nil
}

// checkLeafKey accepts the key types we certify.
func checkLeafKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("%w: RSA key of %d bits", ErrUnsupportedKey, k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return fmt.Errorf("%w: curve %s", ErrUnsupportedKey, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}
	return nil
}

// validity computes notBefore and notAfter, to the second.
//
//  1. notBefore is now minus the profile's backdate, or the requested
//     notBefore if that is later (an earlier one is raised: we never
//     backdate further than the profile says).
//  2. notAfter is notBefore plus the lifetime, or the requested notAfter,
//     which must lie after both notBefore and now.
//  3. The lifetime asked for, notAfter minus the requested notBefore (or
//     minus now), may not exceed MaxLifetime ([ErrLifetime]); the backdate
//     then shrinks as needed so that notAfter - notBefore stays within it.
func (i *Issuer) validity(req IssueRequest, p Profile) (time.Time, time.Time, error) {
	now := req.Now.Truncate(time.Second)
	notBefore := req.Now.Add(-p.Backdate).Truncate(time.Second)
	start := now
	if !req.NotBefore.IsZero() {
		start = req.NotBefore.Truncate(time.Second)
		notBefore = later(notBefore, start)
	}
	notAfter := notBefore.Add(p.Lifetime)
	if !req.NotAfter.IsZero() {
		notAfter = req.NotAfter.Truncate(time.Second)
		if !notAfter.After(notBefore) || !notAfter.After(now) {
			return time.Time{}, time.Time{}, fmt.Errorf(
				"%w: notAfter %s is not after notBefore and now", ErrValidity,
				notAfter.UTC().Format(time.RFC3339))
		}
		if asked := notAfter.Sub(start); asked > p.MaxLifetime {
			return time.Time{}, time.Time{}, fmt.Errorf("%w: %s asked, profile %s allows %s",
				ErrLifetime, asked, p.Name, p.MaxLifetime)
		}
		notBefore = later(notBefore, notAfter.Add(-p.MaxLifetime))
	}
	if err := i.checkIssuerValidity(req.Now, notAfter); err != nil {
		return time.Time{}, time.Time{}, err
	}
	return notBefore, notAfter, nil
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// checkIssuerValidity requires the issuer to be valid now and to outlast
// the new certificate.
func (i *Issuer) checkIssuerValidity(now, notAfter time.Time) error {
	c := i.Certificate
	if now.Before(c.NotBefore) || now.After(c.NotAfter) {
		return fmt.Errorf("%w: issuer is not valid at %s", ErrOutlivesIssuer,
			now.UTC().Format(time.RFC3339))
	}
	if notAfter.After(c.NotAfter) {
		return fmt.Errorf("%w: notAfter %s is after the issuer's %s", ErrOutlivesIssuer,
			notAfter.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// leafTemplate builds the certificate template for a checked request.
func leafTemplate(req IssueRequest, p Profile, notBefore, notAfter time.Time) *x509.Certificate {
	usage := x509.KeyUsageDigitalSignature
	if _, ok := req.CSR.PublicKey().(*rsa.PublicKey); ok {
		// RSA key transport in TLS 1.2 and earlier, RFC 5246, Section 7.4.2.
		usage |= x509.KeyUsageKeyEncipherment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(req.Serial),
		Subject:               leafSubject(req, p),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		DNSNames:              append([]string(nil), req.DNSNames...),
		IPAddresses:           append([]net.IP(nil), req.IPAddresses...),
		KeyUsage:              usage,
		ExtKeyUsage:           p.ExtKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	if p.CRLDistributionPoint != "" {
		tmpl.CRLDistributionPoints = []string{p.CRLDistributionPoint}
	}
	if p.OCSPServer != "" {
		tmpl.OCSPServer = []string{p.OCSPServer}
	}
	if p.IssuingCertificateURL != "" {
		tmpl.IssuingCertificateURL = []string{p.IssuingCertificateURL}
	}
	return tmpl
}

// leafSubject is empty unless the profile asks for a common name; then it
// is the first identifier that fits in a common name.
func leafSubject(req IssueRequest, p Profile) pkix.Name {
	if !p.IncludeCommonName {
		return pkix.Name{}
	}
	for _, name := range req.DNSNames {
		if len(name) <= maxCommonNameLength {
			return pkix.Name{CommonName: name}
		}
	}
	if len(req.IPAddresses) > 0 {
		return pkix.Name{CommonName: req.IPAddresses[0].String()}
	}
	return pkix.Name{}
}

// sign signs tmpl for pub with the intermediate and parses the result.
// The authority key identifier is the intermediate's subject key
// identifier, which x509.CreateCertificate copies from the parent.
func (i *Issuer) sign(
	tmpl *x509.Certificate,
	pub crypto.PublicKey,
	random io.Reader,
) (*x509.Certificate, []byte, error) {
	if random == nil {
		random = defaultRand()
	}
	der, err := x509.CreateCertificate(random, tmpl, i.Certificate, pub, i.Signer)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate %x: %w", tmpl.SerialNumber, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing issued certificate %x: %w", tmpl.SerialNumber, err)
	}
	if err := checkIssued(cert, tmpl, pub); err != nil {
		return nil, nil, fmt.Errorf("checking issued certificate %x: %w", tmpl.SerialNumber, err)
	}
	return cert, der, nil
}

// checkIssued refuses a certificate whose serial, key or names differ from
// what was checked before signing. The signature itself was verified by
// x509.CreateCertificate, against the signer's public key, which it
// requires to be the intermediate's: a faulty HSM or an RSA-CRT fault
// fails there (SECURITY-CATALOGUE G6, TestIssueRefusesFaultySignature).
func checkIssued(cert, tmpl *x509.Certificate, pub crypto.PublicKey) error {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil || !bytes.Equal(spki, cert.RawSubjectPublicKeyInfo) {
		return fmt.Errorf("%w: the certified key is not the requested one", ErrBadSignature)
	}
	if cert.SerialNumber.Cmp(tmpl.SerialNumber) != 0 {
		return fmt.Errorf("%w: the serial differs from the reserved one", ErrBadSignature)
	}
	// Names given in the template (not in a hand-built SAN extension, as
	// for device identifiers) must come back exactly.
	if len(tmpl.DNSNames)+len(tmpl.IPAddresses) > 0 && (!slices.Equal(cert.DNSNames, tmpl.DNSNames) ||
		!slices.EqualFunc(cert.IPAddresses, tmpl.IPAddresses, net.IP.Equal)) {
		return fmt.Errorf("%w: the names differ from the request", ErrBadSignature)
	}
	return nil
}

// defaultRand is the randomness used when a caller passes none.
func defaultRand() io.Reader {
	return cryptorand.Reader
}
