package ca

import (
	"crypto/x509"
	"fmt"
	"time"
)

// Profile describes how leaf certificates of one kind are built: validity,
// extended key usages and optional URLs. Profiles are plain values; the
// caller (the ACME state machine) decides which profile an order gets.
// The zero value is usable: [Profile.WithDefaults] fills the gaps.
type Profile struct {
	// Name identifies the profile, for example in the ACME directory's
	// profiles map. Empty means "default".
	Name string

	// Description is a human-readable summary for operators and clients.
	Description string

	// Lifetime is notAfter - notBefore when the request names no notAfter.
	// Zero means 24 hours.
	Lifetime time.Duration

	// MaxLifetime bounds a requested notAfter: it may lie at most this long
	// after the requested notBefore (or after now), and notAfter - notBefore
	// never exceeds it. Zero means Lifetime.
	MaxLifetime time.Duration

	// Backdate moves notBefore into the past to absorb client clock skew:
	// notBefore = now - Backdate. It counts towards Lifetime, and shrinks
	// when a requested notAfter would otherwise push the validity past
	// MaxLifetime. Zero means no backdating.
	Backdate time.Duration

	// ExtKeyUsage lists the extended key usages. Nil means serverAuth and
	// clientAuth.
	ExtKeyUsage []x509.ExtKeyUsage

	// IncludeCommonName puts the first identifier into the subject common
	// name. Otherwise the subject is empty and the SAN extension critical
	// (RFC 5280, Section 4.2.1.6).
	IncludeCommonName bool

	// CRLDistributionPoint, when set, is the URL of the issuer's CRL and
	// goes into the CRL distribution points extension.
	CRLDistributionPoint string

	// OCSPServer, when set, goes into the authority information access
	// extension as the OCSP responder URL.
	OCSPServer string

	// IssuingCertificateURL, when set, goes into the authority information
	// access extension as the caIssuers URL (where the intermediate can be
	// downloaded).
	IssuingCertificateURL string
}

// Defaults applied by [Profile.WithDefaults].
const (
	DefaultProfileName    = "default"
	DefaultLeafLifetime   = 24 * time.Hour
	DefaultLeafBackdate   = time.Minute
	maxReasonableLifetime = 398 * 24 * time.Hour
	minReasonableLifetime = time.Minute
)

// DefaultProfile returns the profile used when nothing else is configured:
// 24-hour certificates (at most 24 hours), backdated one minute, for
// serverAuth and clientAuth, without a common name.
func DefaultProfile() Profile {
	return Profile{
		Name:        DefaultProfileName,
		Description: "24-hour TLS server and client certificates",
		Lifetime:    DefaultLeafLifetime,
		MaxLifetime: DefaultLeafLifetime,
		Backdate:    DefaultLeafBackdate,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
}

// WithDefaults returns a copy of p with zero fields replaced by their
// documented defaults. Backdate stays zero if it is zero.
func (p Profile) WithDefaults() Profile {
	if p.Name == "" {
		p.Name = DefaultProfileName
	}
	if p.Lifetime == 0 {
		p.Lifetime = DefaultLeafLifetime
	}
	if p.MaxLifetime == 0 {
		p.MaxLifetime = p.Lifetime
	}
	if p.ExtKeyUsage == nil {
		p.ExtKeyUsage = []x509.ExtKeyUsage{
			x509.ExtKeyUsageServerAuth,
			x509.ExtKeyUsageClientAuth,
		}
	} else {
		p.ExtKeyUsage = append([]x509.ExtKeyUsage(nil), p.ExtKeyUsage...)
	}
	return p
}

// Validate reports a profile whose durations make no sense: a lifetime
// under one minute or over 398 days (CA/B Forum Baseline Requirements,
// Section 6.3.2), a MaxLifetime shorter than Lifetime, or a negative or
// excessive Backdate. It checks the profile after [Profile.WithDefaults].
func (p Profile) Validate() error {
	p = p.WithDefaults()
	switch {
	case p.Lifetime < minReasonableLifetime || p.Lifetime > maxReasonableLifetime:
		return fmt.Errorf("profile %s: lifetime %s outside [%s, %s]",
			p.Name, p.Lifetime, minReasonableLifetime, maxReasonableLifetime)
	case p.MaxLifetime < p.Lifetime || p.MaxLifetime > maxReasonableLifetime:
		return fmt.Errorf("profile %s: max lifetime %s outside [%s, %s]",
			p.Name, p.MaxLifetime, p.Lifetime, maxReasonableLifetime)
	case p.Backdate < 0 || p.Backdate >= p.Lifetime:
		return fmt.Errorf("profile %s: backdate %s outside [0, %s)",
			p.Name, p.Backdate, p.Lifetime)
	}
	return nil
}
