package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Document is one version of the issuance policy: the rules and the
// exceptions to them. It is written in YAML (see [Parse]); the store keeps
// every version with its author ([store.PolicyVersion]).
type Document struct {
	Rules      []Rule      `yaml:"rules"`
	Exceptions []Exception `yaml:"exceptions"`
}

// Rule says what the accounts it binds may order. Empty lists place no
// restriction, except for identifiers: as soon as any allow list is given,
// only identifiers on an allow list of their type pass (see
// [Rule.AllowNames]).
type Rule struct {
	// Name identifies the rule in refusals, audit events and exceptions:
	// lowercase letters, digits, ".", "_" and "-".
	Name string `yaml:"name"`
	// Owner is the team or person answerable for the rule; refusals name
	// it so a client knows whom to ask.
	Owner string `yaml:"owner"`
	// Description says what the rule is for.
	Description string  `yaml:"description"`
	Match       Binding `yaml:"match"`
	// AllowNames are DNS name patterns: "corp.example" matches that name
	// and every name below it, "*.svc.cluster.local" every name below
	// svc.cluster.local at any depth but not svc.cluster.local itself. A
	// wildcard identifier passes only when every name it covers does.
	//
	// When any of AllowNames, AllowIPs and AllowPermanentIDs is set, an
	// identifier passes only if an allow list of its own type matches it:
	// a rule allowing names alone refuses every IP address.
	AllowNames []string `yaml:"allow_names"`
	// DenyNames are DNS name patterns that are refused even when allowed.
	// A wildcard identifier is refused when any name it covers is denied.
	DenyNames []string `yaml:"deny_names"`
	// AllowIPs and DenyIPs are CIDR ranges ("10.0.0.0/8", "fd00::/8").
	AllowIPs []string `yaml:"allow_ips"`
	DenyIPs  []string `yaml:"deny_ips"`
	// AllowPermanentIDs and DenyPermanentIDs match permanent-identifier
	// values (draft-ietf-acme-device-attest-09, Section 3.1) exactly, or by
	// prefix when the pattern ends in "*".
	AllowPermanentIDs []string `yaml:"allow_permanent_ids"`
	DenyPermanentIDs  []string `yaml:"deny_permanent_ids"`
	// Profiles, when set, are the only certificate profiles allowed.
	Profiles []string `yaml:"profiles"`
	// MaxLifetime, when set, bounds the certificate lifetime: a longer
	// requested lifetime is refused and a profile's longer default is
	// shortened to it.
	MaxLifetime Duration `yaml:"max_lifetime"`
	// KeyTypes, when set, are the only CSR key types allowed:
	// "ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-N" (exactly
	// N bits) and "rsa-N+" (at least N bits).
	KeyTypes []string `yaml:"key_types"`
	// ChallengeTypes, when set, are the only challenge types offered.
	ChallengeTypes []string `yaml:"challenge_types"`
	// RateLimits bound how often the rule's accounts may order.
	RateLimits []RateLimit `yaml:"rate_limits"`
}

// Binding says which accounts a rule governs. Exactly one field is set.
// The most specific binding wins: a rule bound to the account, then one
// bound to the EAB key the account was created with, then the default.
// An account binding is the narrower one because a reusable EAB key binds
// many accounts.
type Binding struct {
	AccountID string `yaml:"account_id"`
	EABKeyID  string `yaml:"eab_key_id"`
	Default   bool   `yaml:"default"`
}

// Rate-limit scopes and kinds, as written in the document.
const (
	// ScopeAccount counts the events of the ordering account.
	ScopeAccount = "account"
	// ScopeIdentifier counts the events naming each identifier of the
	// order, whatever account caused them.
	ScopeIdentifier = "identifier"
	// KindOrders counts created orders, whatever became of them.
	KindOrders = "orders"
	// KindCertificates counts issued certificates.
	KindCertificates = "certificates"
)

// RateLimit allows at most Limit events of Kind within any Window, counted
// per Scope. The order that would be event Limit+1 is refused with
// rateLimited and a Retry-After for when the oldest counted event leaves
// the window.
type RateLimit struct {
	Scope  string   `yaml:"scope"`
	Kind   string   `yaml:"kind"`
	Limit  int      `yaml:"limit"`
	Window Duration `yaml:"window"`
}

// What an [Exception] may lift, as written in the document.
const (
	LiftIdentifiers    = "identifiers"
	LiftRateLimits     = "rate_limits"
	LiftProfiles       = "profiles"
	LiftLifetime       = "lifetime"
	LiftKeyTypes       = "key_types"
	LiftChallengeTypes = "challenge_types"
)

var allLifts = []string{LiftIdentifiers, LiftRateLimits, LiftProfiles, LiftLifetime,
	LiftKeyTypes, LiftChallengeTypes}

// Exception lets an identifier or an account past parts of one rule until
// it expires; after that it lapses by itself and the rule applies again.
//
// With Identifier set it lifts, for that identifier only (and only for
// AccountID when that is set too), the rule's identifier patterns and, if
// Lifts says so, its identifier-scoped rate limits. With only AccountID
// set it lifts, for that account's orders, what Lifts names.
type Exception struct {
	// Rule names the rule the exception applies to.
	Rule string `yaml:"rule"`
	// Identifier is a DNS name (possibly "*.name"), an IP address or a
	// permanent identifier, matched exactly.
	Identifier string `yaml:"identifier"`
	AccountID  string `yaml:"account_id"`
	// Lifts lists what the exception lifts; default ["identifiers"] for an
	// identifier exception. An account exception must say.
	Lifts []string `yaml:"lifts"`
	// Owner answers for the exception and Reason says why it exists, for
	// example a ticket number.
	Owner  string `yaml:"owner"`
	Reason string `yaml:"reason"`
	// Expires is when the exception lapses (RFC 3339).
	Expires time.Time `yaml:"expires"`
}

// Label describes the exception in decisions and listings, for example
// "legacy.corp.example past payments-prod (owner: team-payments, until
// 2026-05-01T00:00:00Z)".
func (x Exception) Label() string {
	who := x.Identifier
	switch {
	case who == "":
		who = "account " + x.AccountID
	case x.AccountID != "":
		who += " for account " + x.AccountID
	}
	return fmt.Sprintf("%s past %s (owner: %s, until %s)", who, x.Rule, x.Owner,
		x.Expires.UTC().Format(time.RFC3339))
}

// InForce reports whether the exception has not lapsed at now.
func (x Exception) InForce(now time.Time) bool { return now.Before(x.Expires) }

func (x Exception) lifts(what string) bool {
	if len(x.Lifts) == 0 {
		return what == LiftIdentifiers && x.Identifier != ""
	}
	return slices.Contains(x.Lifts, what)
}

// Duration is a time.Duration written in YAML as a Go duration ("90s",
// "24h") or a whole number of days ("7d").
type Duration time.Duration

// UnmarshalYAML parses a duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := parseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like \"90s\", \"24h\" or \"7d\"",
			n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// String formats the duration the way [Parse] reads it.
func (d Duration) String() string {
	v := time.Duration(d)
	if v > 0 && v%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v/(24*time.Hour)), 10) + "d"
	}
	return v.String()
}

func parseDuration(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("bad day count %q", days)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// maxDocumentBytes bounds a policy document.
const maxDocumentBytes = 1 << 20

// Parse decodes a policy document strictly: unknown fields, a second YAML
// document in the stream and values of the wrong type are errors naming
// the line. It then runs [Document.Validate]. An empty text is a valid
// document with no rules.
func Parse(text []byte) (*Document, error) {
	if len(text) > maxDocumentBytes {
		return nil, fmt.Errorf("policy: the document has %d bytes; at most %d are allowed",
			len(text), maxDocumentBytes)
	}
	doc := &Document{}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("policy: %w", err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("policy: the file holds more than one YAML document")
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	return doc, nil
}

// ruleName is the syntax of rule names: safe to put in problem details and
// audit events as they are.
var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// BuiltInRule names the rule that governs accounts no rule binds when the
// document has no default rule: it allows everything the gateway's own
// checks allow and sets no rate limits.
const BuiltInRule = "built-in"

// Validate reports the first invalid field, named by its path in the
// document ("rules[1].allow_ips[0]"), with the rule's name where one is
// known. It does not depend on the time: lapsed exceptions are valid.
func (d *Document) Validate() error {
	names := map[string]bool{}
	bindings := map[string]string{}
	for i := range d.Rules {
		r := &d.Rules[i]
		path := fmt.Sprintf("rules[%d]", i)
		if r.Name != "" {
			path = fmt.Sprintf("rules[%d] (%s)", i, r.Name)
		}
		if err := r.validate(); err != nil {
			return fmt.Errorf("policy: %s.%w", path, err)
		}
		if names[r.Name] {
			return fmt.Errorf("policy: %s.name: %q is used by an earlier rule", path, r.Name)
		}
		names[r.Name] = true
		key := r.Match.key()
		if other, ok := bindings[key]; ok {
			return fmt.Errorf("policy: %s.match: rule %s already binds %s", path, other, key)
		}
		bindings[key] = r.Name
	}
	for i := range d.Exceptions {
		x := &d.Exceptions[i]
		if err := x.validate(names); err != nil {
			return fmt.Errorf("policy: exceptions[%d].%w", i, err)
		}
	}
	return nil
}

func (r *Rule) validate() error {
	switch {
	case !ruleName.MatchString(r.Name):
		return fmt.Errorf("name: %q must be 1 to 63 lowercase letters, digits, '.', '_' or '-'",
			r.Name)
	case r.Name == BuiltInRule:
		return fmt.Errorf("name: %q is reserved", r.Name)
	case strings.TrimSpace(r.Owner) == "":
		return errors.New("owner: every rule must name its owner")
	}
	if err := r.Match.validate(); err != nil {
		return fmt.Errorf("match%w", err)
	}
	if _, err := compileRule(r); err != nil {
		return err
	}
	if r.MaxLifetime < 0 || (r.MaxLifetime > 0 && time.Duration(r.MaxLifetime) < time.Minute) {
		return fmt.Errorf("max_lifetime: %s must be at least 1m (or unset)", r.MaxLifetime)
	}
	for i, p := range r.Profiles {
		if p == "" {
			return fmt.Errorf("profiles[%d]: empty profile name", i)
		}
	}
	for i, c := range r.ChallengeTypes {
		if !knownChallengeTypes[c] {
			return fmt.Errorf("challenge_types[%d]: unknown challenge type %q", i, c)
		}
	}
	for i, l := range r.RateLimits {
		if err := l.validate(); err != nil {
			return fmt.Errorf("rate_limits[%d].%w", i, err)
		}
	}
	return nil
}

// knownChallengeTypes are the challenge types a rule may name, equal to
// their wire names.
var knownChallengeTypes = map[string]bool{
	"http-01": true, "dns-01": true, "tls-alpn-01": true,
	"device-attest-01": true, "tkauth-01": true,
}

func (b Binding) validate() error {
	n := 0
	for _, set := range []bool{b.AccountID != "", b.EABKeyID != "", b.Default} {
		if set {
			n++
		}
	}
	if n != 1 {
		return errors.New(": set exactly one of account_id, eab_key_id and default: true")
	}
	return nil
}

// key names what the binding binds, for duplicate detection and messages.
func (b Binding) key() string {
	switch {
	case b.AccountID != "":
		return "account " + b.AccountID
	case b.EABKeyID != "":
		return "EAB key " + b.EABKeyID
	}
	return "the default"
}

// maxWindow bounds rate-limit windows, so counting stays cheap.
const maxWindow = 90 * 24 * time.Hour

func (l RateLimit) validate() error {
	switch {
	case l.Scope != ScopeAccount && l.Scope != ScopeIdentifier:
		return fmt.Errorf("scope: %q must be account or identifier", l.Scope)
	case l.Kind != KindOrders && l.Kind != KindCertificates:
		return fmt.Errorf("kind: %q must be orders or certificates", l.Kind)
	case l.Limit < 1 || l.Limit > 1_000_000:
		return fmt.Errorf("limit: %d must be between 1 and 1000000", l.Limit)
	case l.Window < Duration(time.Second) || time.Duration(l.Window) > maxWindow:
		return fmt.Errorf("window: %s must be between 1s and 90d", l.Window)
	}
	return nil
}

func (x *Exception) validate(rules map[string]bool) error {
	switch {
	case x.Rule == "":
		return errors.New("rule: name the rule the exception applies to")
	case !rules[x.Rule]:
		return fmt.Errorf("rule: no rule is named %q", x.Rule)
	case x.Identifier == "" && x.AccountID == "":
		return errors.New("identifier: set an identifier, an account_id or both")
	case strings.TrimSpace(x.Owner) == "":
		return errors.New("owner: every exception must name its owner")
	case strings.TrimSpace(x.Reason) == "":
		return errors.New("reason: every exception must say why it exists")
	case x.Expires.IsZero():
		return errors.New("expires: every exception must expire")
	case x.Identifier == "" && len(x.Lifts) == 0:
		return errors.New("lifts: an account exception must say what it lifts")
	}
	for i, l := range x.Lifts {
		if !slices.Contains(allLifts, l) {
			return fmt.Errorf("lifts[%d]: %q must be one of %s", i, l, strings.Join(allLifts, ", "))
		}
		if x.Identifier != "" && l != LiftIdentifiers && l != LiftRateLimits {
			return fmt.Errorf("lifts[%d]: an identifier exception lifts only identifiers and "+
				"rate_limits, not %s", i, l)
		}
	}
	return nil
}
