package caa

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/acmegate/acmegate/challenges"
)

// Property tags this package understands (RFC 8659, Sections 4.2 to 4.4).
// Tags are compared without regard to case (RFC 8659, Section 4.1).
const (
	tagIssue     = "issue"
	tagIssueWild = "issuewild"
	tagIODEF     = "iodef"
)

// Parameters of issue and issuewild properties (RFC 8657, Sections 3 and 4).
const (
	paramAccountURI        = "accounturi"
	paramValidationMethods = "validationmethods"
)

// flagCritical is the Issuer Critical Flag: bit 0 of the flags octet, the
// most significant one (RFC 8659, Section 4.1). The other bits are reserved
// and ignored.
const flagCritical = 0x80

// wsp is the WSP rule of RFC 5234, Appendix B.1: space and horizontal tab.
const wsp = " \t"

// maxShown bounds how many records a refusal detail lists.
const maxShown = 4

// request is what one check is about.
type request struct {
	name       string // the name asked about, without "*."
	owner      string // where the relevant RRset was found
	wildcard   bool
	accountURI string
	method     string
}

// judge decides whether the relevant RRset set, found at req.owner, lets
// this CA issue. It returns nil or a *challenges.Error of kind caa.
func (c *Checker) judge(req request, set []*dns.CAA) error {
	// RFC 8659, Section 4.1: a critical property with a tag we do not
	// implement forbids issuance, whatever the other properties say.
	for _, rr := range set {
		if rr.Flag&flagCritical != 0 && !knownTag(rr.Tag) {
			return refusal(req, "carry a critical property this CA does not support",
				[]string{describe(rr)})
		}
	}

	relevant := relevantProperties(set, req.wildcard)
	if len(relevant) == 0 {
		// RFC 8659, Section 3: an RRset with no property that applies here
		// (issue, or issuewild for a wildcard) does not restrict issuance.
		return nil
	}
	reasons := make([]string, 0, len(relevant))
	for _, rr := range relevant {
		why := c.denial(rr.Value, req)
		if why == "" {
			// RFC 8659, Section 4.2: authorizations are additive.
			return nil
		}
		reasons = append(reasons, describe(rr)+" ("+why+")")
	}
	return refusal(req, "do not authorize this CA to issue", reasons)
}

// knownTag reports whether this package implements the property tag.
func knownTag(tag string) bool {
	switch strings.ToLower(tag) {
	case tagIssue, tagIssueWild, tagIODEF:
		return true
	}
	return false
}

// relevantProperties returns the properties that decide issuance: the issue
// properties for a name; for a wildcard name the issuewild properties if
// there is at least one, else the issue properties (RFC 8659, Section 4.3).
func relevantProperties(set []*dns.CAA, wildcard bool) []*dns.CAA {
	var issue, issueWild []*dns.CAA
	for _, rr := range set {
		switch strings.ToLower(rr.Tag) {
		case tagIssue:
			issue = append(issue, rr)
		case tagIssueWild:
			issueWild = append(issueWild, rr)
		}
	}
	if wildcard && len(issueWild) > 0 {
		return issueWild
	}
	return issue
}

// denial returns why the issue or issuewild value does not authorize this
// issuance, or "" when it does.
func (c *Checker) denial(value string, req request) string {
	iv, ok := parseIssueValue(value)
	switch {
	case !ok:
		// RFC 8659, Section 4.2: a value outside the grammar counts as one
		// with an empty issuer.
		return "malformed value, which authorizes no CA"
	case iv.issuer == "":
		return "authorizes no CA"
	case !slices.Contains(c.identities, strings.ToLower(iv.issuer)):
		return "authorizes another CA"
	}

	accounts := iv.values(paramAccountURI)
	methods := iv.values(paramValidationMethods)
	switch {
	// RFC 8657, Section 3: several accounturi parameters, or an invalid one,
	// make the property unsatisfiable.
	case len(accounts) > 1:
		return "more than one accounturi parameter"
	case len(accounts) == 1 && (accounts[0] == "" || accounts[0] != req.accountURI):
		return "accounturi names another account"
	case len(methods) > 1:
		return "more than one validationmethods parameter"
	case len(methods) == 1:
		// RFC 8657, Section 4: only the listed methods may have been used.
		listed, ok := parseMethods(methods[0])
		if !ok {
			return "malformed validationmethods parameter"
		}
		if !slices.Contains(listed, req.method) {
			return fmt.Sprintf("validationmethods does not list %s",
				challenges.Excerpt(req.method, 32))
		}
	}
	return ""
}

// refusal builds the caa error for records that forbid issuance, listing at
// most maxShown of them.
func refusal(req request, verdict string, records []string) *challenges.Error {
	name := req.name
	if req.wildcard {
		name = "*." + name
	}
	where := req.owner
	if req.owner != name {
		where = req.owner + ", relevant for " + name + ","
	}
	shown := records[:min(len(records), maxShown)]
	if extra := len(records) - len(shown); extra > 0 {
		shown = append(shown, fmt.Sprintf("and %d more", extra))
	}
	return challenges.Errorf(challenges.KindCAA, "CAA records at %s %s: %s",
		where, verdict, strings.Join(shown, "; "))
}

// describe shows a record for an error detail: flags, tag and the value
// quoted in ASCII, the whole cut short.
func describe(rr *dns.CAA) string {
	return challenges.Excerpt(fmt.Sprintf("%d %s %+q", rr.Flag, rr.Tag, rr.Value), 160)
}

// issueValue is a parsed issue or issuewild property value.
type issueValue struct {
	issuer string      // issuer-domain-name, empty when absent
	params []parameter // in the order given, tags in lower case
}

// parameter is one tag=value pair of an issue value.
type parameter struct {
	tag, value string
}

// values returns the values of every parameter named tag.
func (iv issueValue) values(tag string) []string {
	var out []string
	for _, p := range iv.params {
		if p.tag == tag {
			out = append(out, p.value)
		}
	}
	return out
}

// parseIssueValue parses an issue or issuewild value by the grammar of
// RFC 8659, Section 4.2. It reports false when the value does not follow the
// grammar. Parameter tags are lower-cased; see the package comment.
func parseIssueValue(v string) (issueValue, bool) {
	issuer, rest, hasParams := strings.Cut(v, ";")
	issuer = strings.Trim(issuer, wsp)
	if issuer != "" && !isDomain(issuer) {
		return issueValue{}, false
	}
	iv := issueValue{issuer: issuer}

	rest = strings.Trim(rest, wsp)
	if !hasParams || rest == "" {
		return iv, true
	}
	// A parameter value cannot hold ";" (%x3B), so splitting is exact.
	for p := range strings.SplitSeq(rest, ";") {
		tag, value, ok := strings.Cut(p, "=")
		tag, value = strings.Trim(tag, wsp), strings.Trim(value, wsp)
		if !ok || !isLDH(tag) || !isParamValue(value) {
			return issueValue{}, false
		}
		iv.params = append(iv.params, parameter{tag: strings.ToLower(tag), value: value})
	}
	return iv, true
}

// parseMethods parses a validationmethods value, a comma-separated list of
// labels of letters, digits and hyphens (RFC 8657, Section 4). An empty
// value is an empty list.
func parseMethods(v string) ([]string, bool) {
	if v == "" {
		return nil, true
	}
	labels := strings.Split(v, ",")
	for _, l := range labels {
		if l == "" || !isAlnumHyphen(l) {
			return nil, false
		}
	}
	return labels, true
}

// isDomain reports whether s is an issuer-domain-name: LDH labels joined by
// dots (RFC 8659, Section 4.2).
func isDomain(s string) bool {
	for label := range strings.SplitSeq(s, ".") {
		if !isLDH(label) {
			return false
		}
	}
	return true
}

// isLDH reports whether s is a letter or digit, optionally followed by
// letters, digits and hyphens ending in a letter or digit: the label and tag
// rules of RFC 8659, Section 4.2.
func isLDH(s string) bool {
	return s != "" && isAlnum(s[0]) && isAlnum(s[len(s)-1]) && isAlnumHyphen(s)
}

// isAlnumHyphen reports whether s holds only ASCII letters, digits and
// hyphens.
func isAlnumHyphen(s string) bool {
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
