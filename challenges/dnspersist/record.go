package dnspersist

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/acmegate/acmegate/challenges"
)

// Parameter tags of a validation record (draft-ietf-acme-dns-persist-02,
// Section 4.1), in lower case: tags are compared without regard to case.
const (
	tagAccountURI   = "accounturi"
	tagPolicy       = "policy"
	tagPersistUntil = "persistuntil"
)

// PolicyWildcard is the policy value that extends a record to wildcards
// and subdomains of its domain (draft-ietf-acme-dns-persist-02, Section 5).
const PolicyWildcard = "wildcard"

// HashAlgorithm is the Hash Name String (RFC 6920, Section 9.4) of the
// only digest this CA accepts in hashed account URIs; the draft makes it
// mandatory (draft-ietf-acme-dns-persist-02, Section 4.1).
const HashAlgorithm = "sha-256"

// AnyDomain is the domain_name of a hashed account URI that a client
// computed for use at any domain (draft-ietf-acme-dns-persist-02,
// Section 4.1).
const AnyDomain = "*"

// wsp is the WSP rule of RFC 5234, Appendix B.1: space and horizontal tab.
const wsp = " \t"

// HashedAccountURI returns the accounturi value that binds the account at
// accountURL, holding the key whose RFC 7638 thumbprint (unpadded
// base64url, 43 characters) is thumbprint, to records published at domain
// (lower case, no trailing dot) or, with [AnyDomain], at any domain:
// prefix, "sha-256/", and the unpadded base64url SHA-256 of
// len(domain) || domain || thumbprint || accountURL
// (draft-ietf-acme-dns-persist-02, Section 4.1). domain must not exceed
// 255 octets.
func HashedAccountURI(prefix, domain, thumbprint, accountURL string) string {
	h := sha256.New()
	h.Write([]byte{byte(len(domain))})
	h.Write([]byte(domain))
	h.Write([]byte(thumbprint))
	h.Write([]byte(accountURL))
	return prefix + HashAlgorithm + "/" + base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// validationRecord is one TXT value read as an issue-value.
type validationRecord struct {
	// issuer is the issuer-domain-name in lower case.
	issuer string
	// params maps lower-case tags to values.
	params map[string]string
	// err, when not nil, is why the parameters are malformed: they break
	// the grammar or repeat a tag.
	err error
}

// parseRecord reads a TXT value by the issue-value grammar of RFC 8659,
// Section 4.2 (draft-ietf-acme-dns-persist-02, Section 4.1). It reports
// false when no issuer-domain-name can be read, since such a value names no
// CA and is ignored like a record for another CA (Section 4.3.2). Faults
// after a readable issuer are kept in the record's err, to be reported
// when the issuer is this CA's.
func parseRecord(v string) (validationRecord, bool) {
	issuer, rest, _ := strings.Cut(v, ";")
	issuer = strings.Trim(issuer, wsp)
	if !isDomain(issuer) {
		return validationRecord{}, false
	}
	rec := validationRecord{issuer: strings.ToLower(issuer), params: map[string]string{}}
	rest = strings.Trim(rest, wsp)
	if rest == "" {
		return rec, true
	}
	// A parameter value cannot hold ";" (%x3B), so splitting is exact.
	for p := range strings.SplitSeq(rest, ";") {
		tag, value, ok := strings.Cut(p, "=")
		tag, value = strings.ToLower(strings.Trim(tag, wsp)), strings.Trim(value, wsp)
		if !ok || !isLDH(tag) || !isParamValue(value) {
			rec.err = challenges.Errorf(challenges.KindMalformed,
				"parameter %q breaks the issue-value grammar", challenges.Excerpt(p, 64))
			return rec, true
		}
		// draft-ietf-acme-dns-persist-02, Section 9.3.1: a repeated
		// parameter makes the record malformed.
		if _, dup := rec.params[tag]; dup {
			rec.err = challenges.Errorf(challenges.KindMalformed,
				"parameter %q appears more than once", tag)
			return rec, true
		}
		rec.params[tag] = value
	}
	return rec, true
}

// wildcardPolicy reports whether the record says policy=wildcard; the
// value is compared without regard to case and any other value counts as
// none (draft-ietf-acme-dns-persist-02, Section 4.1).
func (r validationRecord) wildcardPolicy() bool {
	return strings.EqualFold(r.params[tagPolicy], PolicyWildcard)
}

// isDomain reports whether s is an issuer-domain-name: LDH labels joined by
// dots (RFC 8659, Section 4.2).
func isDomain(s string) bool {
	if s == "" {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !isLDH(label) {
			return false
		}
	}
	return true
}

// isLDH reports whether s is a letter or digit, optionally followed by
// letters, digits and hyphens ending in a letter or digit: the label and
// tag rules of RFC 8659, Section 4.2.
func isLDH(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isParamValue reports whether s uses only the characters of a parameter
// value: printable ASCII except space and ";" (RFC 8659, Section 4.2).
func isParamValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ';' {
			return false
		}
	}
	return true
}

// isBase64URL reports whether s uses only the base64url alphabet without
// padding (RFC 4648, Section 5).
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) && s[i] != '-' && s[i] != '_' {
			return false
		}
	}
	return true
}

// CheckIssuerDomainNames reports whether names can be this CA's issuer
// domain names: one to [MaxIssuerDomainNames] names, each a lower-case
// A-label domain name of LDH labels without a trailing dot and at most 253
// octets (draft-ietf-acme-dns-persist-02, Section 3.1).
func CheckIssuerDomainNames(names []string) error {
	if len(names) == 0 || len(names) > MaxIssuerDomainNames {
		return fmt.Errorf("dnspersist: %d issuer domain names, want 1 to %d",
			len(names), MaxIssuerDomainNames)
	}
	for _, n := range names {
		if len(n) > 253 || !isDomain(n) || strings.ToLower(n) != n {
			return fmt.Errorf("dnspersist: issuer domain name %q is not a lower-case "+
				"A-label domain name without a trailing dot", n)
		}
	}
	return nil
}
