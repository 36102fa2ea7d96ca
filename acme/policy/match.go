package policy

import (
	"fmt"
	"net/netip"
	"strings"
)

// Identifier types, equal to their wire names (RFC 8555, Section 9.7.7;
// RFC 8738; draft-ietf-acme-device-attest-09, Section 3.1).
const (
	TypeDNS         = "dns"
	TypeIP          = "ip"
	TypePermanentID = "permanent-identifier"
)

// Identifier is one identifier of an order, as the state machine
// normalised it.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// compiled is a rule with its patterns parsed, ready to match.
type compiled struct {
	*Rule
	allowNames, denyNames []namePattern
	allowIPs, denyIPs     []netip.Prefix
	allowPerm, denyPerm   []permPattern
	keyTypes              []keyType
	// restricted is true when any allow list is set: identifiers then
	// need an allow list of their type to pass.
	restricted bool
}

func compileRule(r *Rule) (*compiled, error) {
	c := &compiled{Rule: r}
	var err error
	if c.allowNames, err = compileNames("allow_names", r.AllowNames); err != nil {
		return nil, err
	}
	if c.denyNames, err = compileNames("deny_names", r.DenyNames); err != nil {
		return nil, err
	}
	if c.allowIPs, err = compilePrefixes("allow_ips", r.AllowIPs); err != nil {
		return nil, err
	}
	if c.denyIPs, err = compilePrefixes("deny_ips", r.DenyIPs); err != nil {
		return nil, err
	}
	if c.allowPerm, err = compilePerm("allow_permanent_ids", r.AllowPermanentIDs); err != nil {
		return nil, err
	}
	if c.denyPerm, err = compilePerm("deny_permanent_ids", r.DenyPermanentIDs); err != nil {
		return nil, err
	}
	for i, s := range r.KeyTypes {
		k, err := parseKeyType(s)
		if err != nil {
			return nil, fmt.Errorf("key_types[%d]: %w", i, err)
		}
		c.keyTypes = append(c.keyTypes, k)
	}
	c.restricted = len(r.AllowNames)+len(r.AllowIPs)+len(r.AllowPermanentIDs) > 0
	return c, nil
}

// checkIdentifier returns why the rule refuses id, or "" when it passes.
func (c *compiled) checkIdentifier(id Identifier) string {
	switch id.Type {
	case TypeDNS:
		return c.checkName(id.Value)
	case TypeIP:
		return c.checkIP(id.Value)
	case TypePermanentID:
		return c.checkPerm(id.Value)
	}
	if c.restricted {
		return fmt.Sprintf("the rule allows no identifiers of type %s", id.Type)
	}
	return ""
}

func (c *compiled) checkName(value string) string {
	name := normalName(value)
	for _, p := range c.denyNames {
		if p.coversAny(name) {
			return fmt.Sprintf("it matches the denied name pattern %s", p)
		}
	}
	if !c.restricted {
		return ""
	}
	for _, p := range c.allowNames {
		if p.coversAll(name) {
			return ""
		}
	}
	if len(c.allowNames) == 0 {
		return "the rule allows no DNS names"
	}
	return "it matches no allowed name pattern"
}

func (c *compiled) checkIP(value string) string {
	addr, err := netip.ParseAddr(value)
	if err != nil {
		return "it is not an IP address"
	}
	addr = addr.Unmap()
	for _, p := range c.denyIPs {
		if p.Contains(addr) {
			return fmt.Sprintf("it is in the denied range %s", p)
		}
	}
	if !c.restricted {
		return ""
	}
	for _, p := range c.allowIPs {
		if p.Contains(addr) {
			return ""
		}
	}
	if len(c.allowIPs) == 0 {
		return "the rule allows no IP addresses"
	}
	return "it is in no allowed range"
}

func (c *compiled) checkPerm(value string) string {
	for _, p := range c.denyPerm {
		if p.matches(value) {
			return fmt.Sprintf("it matches the denied permanent identifier %s", p)
		}
	}
	if !c.restricted {
		return ""
	}
	for _, p := range c.allowPerm {
		if p.matches(value) {
			return ""
		}
	}
	if len(c.allowPerm) == 0 {
		return "the rule allows no permanent identifiers"
	}
	return "it matches no allowed permanent identifier"
}

// namePattern is a DNS name pattern: base and every name below it, or with
// below set ("*.base"), only the names strictly below base.
type namePattern struct {
	base  string
	below bool
}

func (p namePattern) String() string {
	if p.below {
		return "*." + p.base
	}
	return p.base
}

func compileNames(field string, in []string) ([]namePattern, error) {
	out := make([]namePattern, 0, len(in))
	for i, s := range in {
		p := namePattern{base: normalName(s)}
		if rest, ok := strings.CutPrefix(p.base, "*."); ok {
			p = namePattern{base: rest, below: true}
		}
		if err := checkLDH(p.base); err != nil {
			return nil, fmt.Errorf("%s[%d]: %q %w", field, i, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// matchesName reports whether the single name n is in the pattern.
func (p namePattern) matchesName(n string) bool {
	if p.below {
		return strings.HasSuffix(n, "."+p.base)
	}
	return within(n, p.base)
}

// coversAll reports whether every name the identifier name stands for is
// in the pattern: the name itself, or for "*.B" every "X.B" (a wildcard
// covers exactly one label, RFC 6125, Section 6.4.3).
func (p namePattern) coversAll(name string) bool {
	if b, ok := strings.CutPrefix(name, "*."); ok {
		return within(b, p.base)
	}
	return p.matchesName(name)
}

// coversAny reports whether some name the identifier name stands for is in
// the pattern. A wildcard "*.B" reaches a plain pattern one label below B
// (the "*" may be that label) and anything within B.
func (p namePattern) coversAny(name string) bool {
	b, ok := strings.CutPrefix(name, "*.")
	if !ok {
		return p.matchesName(name)
	}
	if within(b, p.base) {
		return true
	}
	_, parent, _ := strings.Cut(p.base, ".")
	return !p.below && parent == b
}

// within reports whether name is base or below it.
func within(name, base string) bool {
	return name == base || strings.HasSuffix(name, "."+base)
}

func normalName(s string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(s), "."))
}

// checkLDH accepts names of 1 to 63 character labels of letters, digits and
// hyphens; a pattern may be a single label (an internal top-level name).
func checkLDH(name string) error {
	if name == "" || len(name) > 253 {
		return fmt.Errorf("must be a DNS name of 1 to 253 characters")
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("has an empty, too long or hyphen-edged label")
		}
		for i := 0; i < len(l); i++ {
			ch := l[i]
			if !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-') {
				return fmt.Errorf("has a character outside letters, digits and hyphen")
			}
		}
	}
	return nil
}

func compilePrefixes(field string, in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for i, s := range in {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %q is not a CIDR range like 10.0.0.0/8", field, i, s)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// permPattern matches a permanent identifier exactly or, with prefix set,
// by its start.
type permPattern struct {
	value  string
	prefix bool
}

func (p permPattern) String() string {
	if p.prefix {
		return p.value + "*"
	}
	return p.value
}

func (p permPattern) matches(v string) bool {
	if p.prefix {
		return strings.HasPrefix(v, p.value)
	}
	return v == p.value
}

func compilePerm(field string, in []string) ([]permPattern, error) {
	out := make([]permPattern, 0, len(in))
	for i, s := range in {
		v, prefix := strings.CutSuffix(s, "*")
		if v == "" || strings.Contains(v, "*") {
			return nil, fmt.Errorf("%s[%d]: %q must be a value, optionally ending in *", field, i, s)
		}
		out = append(out, permPattern{value: v, prefix: prefix})
	}
	return out, nil
}

// normalIdentifier puts an identifier value in the form the state machine
// stores, so exceptions match however the operator wrote them.
func normalIdentifier(v string) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(v)); err == nil {
		return a.Unmap().String()
	}
	return normalName(v)
}
