package catest

import (
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

// internalCAExclusions is the list behind [InternalCAExclusions].
var internalCAExclusions = map[string]string{
	// Names.
	"e_dnsname_not_valid_tld": "internal names (host.internal, localhost, *.corp) " +
		"are not under a public suffix, and need not be",
	"e_ext_san_contains_reserved_ip": "private and loopback addresses are the usual " +
		"IP identifiers (RFC 8738) of an internal CA",
	"e_ext_nc_intersects_reserved_ip": "an internal CA's name constraints permit " +
		"private ranges such as 10.0.0.0/8 on purpose",
	"w_subject_common_name_included": "a profile may opt into a common name for " +
		"legacy clients (Profile.IncludeCommonName); the BRs only discourage it",

	// Subscriber certificate contents.
	"e_sub_cert_certificate_policies_missing": "CA/B Forum reserved policy OIDs " +
		"claim Baseline Requirements conformance, which a private CA does not",
	"e_sub_cert_cert_policy_empty": "same as e_sub_cert_certificate_policies_missing",
	"w_ext_subject_key_identifier_missing_sub_cert": "CA/B Forum Baseline " +
		"Requirements, Section 7.1.2.7.6 makes it NOT RECOMMENDED; we follow the BRs " +
		"over the SHOULD of RFC 5280, Section 4.2.1.2",
	"e_sub_cert_aia_missing": "the caIssuers URL is optional " +
		"(Profile.IssuingCertificateURL): ACME clients receive the chain with the " +
		"certificate (RFC 8555, Section 7.4.2)",
	"w_sub_cert_aia_does_not_contain_issuing_ca_url": "same as e_sub_cert_aia_missing",

	// CA certificates.
	"e_ca_country_name_missing": "the country is optional for a private CA " +
		"(CeremonyOptions.Country)",
	"e_sub_ca_crl_distribution_points_missing": "an offline internal root need not " +
		"publish a CRL (CeremonyOptions.RootCRLURL)",
	"w_sub_ca_aia_missing": "an offline internal root need not be published at a URL " +
		"(CeremonyOptions.RootCertURL)",
}

// InternalCAExclusions returns the lints that [Lint] and [LintCRL] ignore,
// mapped to the reason each is expected on correct acmegate output. The
// map is a fresh copy; callers may change it and pass it to [LintExcept].
func InternalCAExclusions() map[string]string {
	return maps.Clone(internalCAExclusions)
}

// Finding is one lint result at warning level or above.
type Finding struct {
	// Lint is the zlint name, such as "e_sub_cert_aia_missing".
	Lint string
	// Status is lint.Warn, lint.Error or lint.Fatal.
	Status lint.LintStatus
	// Details is zlint's explanation, often empty.
	Details string
}

// String formats f for test output.
func (f Finding) String() string {
	if f.Details == "" {
		return fmt.Sprintf("%s: %s", f.Lint, f.Status)
	}
	return fmt.Sprintf("%s: %s (%s)", f.Lint, f.Status, f.Details)
}

var (
	registryOnce sync.Once
	registry     lint.Registry
	registryErr  error
)

// lintRegistry builds the filtered registry once per process.
func lintRegistry() (lint.Registry, error) {
	registryOnce.Do(func() {
		registry, registryErr = lint.GlobalRegistry().Filter(lint.FilterOptions{
			ExcludeSources: lint.SourceList{lint.CABFEVGuidelines, lint.EtsiEsi},
		})
	})
	return registry, registryErr
}

// Check lints a DER certificate and returns the findings at warning level
// or above whose lint is not a key of exclusions, sorted by lint name. It
// fails only if der does not parse. Safe for concurrent use.
func Check(der []byte, exclusions map[string]string) ([]Finding, error) {
	reg, err := lintRegistry()
	if err != nil {
		return nil, fmt.Errorf("building zlint registry: %w", err)
	}
	cert, err := zx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate for zlint: %w", err)
	}
	return findings(zlint.LintCertificateEx(cert, reg), exclusions), nil
}

// CheckCRL is [Check] for a DER certificate revocation list.
func CheckCRL(der []byte, exclusions map[string]string) ([]Finding, error) {
	reg, err := lintRegistry()
	if err != nil {
		return nil, fmt.Errorf("building zlint registry: %w", err)
	}
	crl, err := zx509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parsing CRL for zlint: %w", err)
	}
	return findings(zlint.LintRevocationListEx(crl, reg), exclusions), nil
}

// findings keeps the results at warning level or above that are not
// excluded.
func findings(rs *zlint.ResultSet, exclusions map[string]string) []Finding {
	var out []Finding
	for _, name := range slices.Sorted(maps.Keys(rs.Results)) {
		res := rs.Results[name]
		if res.Status < lint.Warn {
			continue
		}
		if _, ok := exclusions[name]; ok {
			continue
		}
		out = append(out, Finding{Lint: name, Status: res.Status, Details: res.Details})
	}
	return out
}

// Lint fails t (without stopping it) for every zlint warning or error on
// the DER certificate der, except the lints in [InternalCAExclusions]. It
// stops t if der does not parse.
func Lint(t testing.TB, der []byte) {
	t.Helper()
	LintExcept(t, der, internalCAExclusions)
}

// LintExcept is [Lint] with an explicit exclusion list (lint name to
// reason); nil excludes nothing.
func LintExcept(t testing.TB, der []byte, exclusions map[string]string) {
	t.Helper()
	found, err := Check(der, exclusions)
	if err != nil {
		t.Fatalf("zlint: %v", err)
	}
	report(t, "certificate", found)
}

// LintCRL is [Lint] for a DER certificate revocation list.
func LintCRL(t testing.TB, der []byte) {
	t.Helper()
	found, err := CheckCRL(der, internalCAExclusions)
	if err != nil {
		t.Fatalf("zlint: %v", err)
	}
	report(t, "CRL", found)
}

// report turns findings into test errors.
func report(t testing.TB, what string, found []Finding) {
	t.Helper()
	for _, f := range found {
		t.Errorf("zlint on %s: got %s, want pass", what, f)
	}
}
