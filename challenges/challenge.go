package challenges

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Identifier types as they appear on the wire (RFC 8555, Section 9.7.7;
// RFC 8738, Section 3).
const (
	IdentifierDNS = "dns"
	IdentifierIP  = "ip"
)

// Challenge types as they appear on the wire (RFC 8555, Section 9.7.8;
// RFC 8737, Section 6.2).
const (
	TypeHTTP01    = "http-01"
	TypeDNS01     = "dns-01"
	TypeTLSALPN01 = "tls-alpn-01"
	// TypeTKAuth01 is the token challenge (RFC 9447 shape; see package tkauth).
	TypeTKAuth01 = "tkauth-01"
)

// Error kinds. Each equals the ACME error type name that the front end puts
// after "urn:ietf:params:acme:error:" (RFC 8555, Section 6.7).
const (
	KindIncorrectResponse  = "incorrectResponse"
	KindConnection         = "connection"
	KindDNS                = "dns"
	KindTLS                = "tls"
	KindUnauthorized       = "unauthorized"
	KindRejectedIdentifier = "rejectedIdentifier"
	KindMalformed          = "malformed"
	KindCAA                = "caa"
)

// maxTokenLen bounds the challenge token; ours are 43 characters, and a
// token is placed in URLs and DNS names.
const maxTokenLen = 128

// Identifier is the thing being validated: a DNS name or an IP address.
type Identifier struct {
	// Type is IdentifierDNS or IdentifierIP.
	Type string
	// Value is the name in canonical form (lower case, no trailing dot) or
	// the IP address in its textual form.
	Value string
}

// Request is one validation attempt. Validators do not modify it.
type Request struct {
	// Identifier is what is being validated. For a wildcard order the value
	// is the base name without "*." (RFC 8555, Section 7.1.3).
	Identifier Identifier
	// Token is the challenge token, base64url without padding
	// (RFC 8555, Section 8.1).
	Token string
	// KeyAuthorization is Token + "." + base64url(JWK thumbprint); see
	// [KeyAuthorization].
	KeyAuthorization string
	// AccountURI is the URL of the account that asked for validation. It is
	// informational for the validators in this module.
	AccountURI string
	// Payload is the raw challenge-response payload posted by the client,
	// for challenge types that use one; nil otherwise.
	Payload []byte
	// Wildcard reports that the authorization is for "*." + Identifier.Value
	// (RFC 8555, Section 7.1.3). Validators whose proof differs for
	// wildcards (dns-persist-01) read it; the others ignore it.
	Wildcard bool
	// RetiredThumbprints are the base64url RFC 7638 thumbprints of the
	// keys the account used before its current one, most recently retired
	// first. dns-persist-01 accepts records made with them
	// (draft-ietf-acme-dns-persist-02, Section 4.2); the other
	// validators ignore them, as a key authorization must use the
	// current key.
	RetiredThumbprints []string
}

// Check reports whether the request is complete and well formed: a supported
// identifier type with a plausible value (no wildcard prefix, no port, no
// user information, no IP literal typed as a DNS name), a base64url token and
// a key authorization that starts with that token. It returns a *[Error] of
// kind [KindMalformed] otherwise. Every validator calls it first, so that
// nothing malformed reaches a URL, a DNS query or a TLS handshake.
func (r Request) Check() error {
	switch r.Identifier.Type {
	case IdentifierDNS:
		if err := CheckHostName(r.Identifier.Value); err != nil {
			return err
		}
	case IdentifierIP:
		addr, err := netip.ParseAddr(r.Identifier.Value)
		if err != nil || addr.Zone() != "" || addr.Is4In6() {
			return Errorf(KindMalformed, "invalid IP identifier %q", Excerpt(r.Identifier.Value, 64))
		}
	default:
		return Errorf(KindMalformed, "unsupported identifier type %q", Excerpt(r.Identifier.Type, 32))
	}

	if !isBase64URL(r.Token) || len(r.Token) > maxTokenLen {
		return Errorf(KindMalformed, "invalid challenge token")
	}
	// RFC 8555, Section 8.1: keyAuthorization = token || '.' || base64url(Thumbprint(accountKey)).
	thumbprint, ok := strings.CutPrefix(r.KeyAuthorization, r.Token+".")
	if !ok || !isBase64URL(thumbprint) {
		return Errorf(KindMalformed, "key authorization does not belong to the challenge token")
	}
	return nil
}

// CheckHostName returns a *[Error] of kind [KindMalformed] unless name is a
// plausible host name: 1 to 253 characters, labels of 1 to 63 letters,
// digits, hyphens or underscores, no wildcard prefix, no trailing dot, and
// not an IP address. It enforces no policy (allowed suffixes, reserved
// names), which is the state machine's job; it keeps out values that would
// change the meaning of a URL or a DNS query.
func CheckHostName(name string) error {
	bad := func(why string) error {
		return Errorf(KindMalformed, "invalid DNS identifier %q: %s", Excerpt(name, 64), why)
	}
	if name == "" || len(name) > 253 {
		return bad("empty or longer than 253 characters")
	}
	if strings.HasPrefix(name, "*.") {
		return bad("wildcard prefix must be removed before validation")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return bad("an IP address must use the ip identifier type")
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" || len(label) > 63 {
			return bad("empty or over-long label")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !isAlnum(c) && c != '-' && c != '_' {
				return bad("character not allowed in a host name")
			}
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// isBase64URL reports whether s is non-empty and uses only the base64url
// alphabet without padding (RFC 4648, Section 5).
func isBase64URL(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// Record is what a validator observed, kept for the audit trail. It is
// JSON-serialisable. Validators fill the fields that apply to their type and
// return the record even when validation fails, as far as they got.
type Record struct {
	// Type is the challenge type, e.g. [TypeHTTP01].
	Type string `json:"type"`
	// Hostname is the host of the last connection made, or the name queried.
	Hostname string `json:"hostname,omitempty"`
	// Port is the port of the last connection made.
	Port string `json:"port,omitempty"`
	// URL is the first URL requested (http-01 only).
	URL string `json:"url,omitempty"`
	// Redirects lists the redirect targets followed after URL, in order.
	Redirects []string `json:"redirects,omitempty"`
	// AddressesResolved are the addresses Hostname resolved to.
	AddressesResolved []string `json:"addressesResolved,omitempty"`
	// AddressesTried are the addresses a connection was attempted to.
	AddressesTried []string `json:"addressesTried,omitempty"`
	// AddressUsed is the address of the connection whose answer was judged.
	AddressUsed string `json:"addressUsed,omitempty"`
	// Resolvers are the DNS servers asked.
	Resolvers []string `json:"resolvers,omitempty"`
	// Answers are the DNS resource records received, in presentation form.
	Answers []string `json:"answers,omitempty"`
	// Started is when the validation began, from the validator's clock.
	Started time.Time `json:"started"`
	// Duration is how long the validation took.
	Duration time.Duration `json:"duration"`
	// ValidUntil, when not zero, is the last moment the validation may be
	// relied on, as a dns-persist-01 record's persistUntil sets it; the
	// authorization must not stay valid past it.
	ValidUntil time.Time `json:"validUntil,omitzero"`
}

// Validator validates one challenge type. Implementations are safe for
// concurrent use. Validate returns nil when the challenge is fulfilled; a
// *[Error] when the client's response is wrong or unreachable; and any other
// error only for an internal fault. The [Record] is returned in every case.
type Validator interface {
	Validate(ctx context.Context, req Request) (Record, error)
}

// Error is a validation failure. Kind is one of the Kind constants; Detail
// is written for the ACME client and carries no internal state beyond short,
// sanitised excerpts of what the client's server sent.
type Error struct {
	// Kind is one of the Kind constants, e.g. [KindConnection].
	Kind string
	// Detail explains the failure to the ACME client.
	Detail string
}

// Error returns the kind and the detail, prefixed with the package name.
func (e *Error) Error() string {
	return "challenges: " + e.Kind + ": " + e.Detail
}

// Errorf returns an *[Error] of the given kind with a formatted detail.
func Errorf(kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// KeyAuthorization joins a challenge token and the base64url-encoded JWK
// thumbprint of the account key (RFC 7638) into the key authorization
// (RFC 8555, Section 8.1).
func KeyAuthorization(token string, accountKeyThumbprint string) string {
	return token + "." + accountKeyThumbprint
}

// Excerpt returns text received from a client's server in a form safe to put
// in an error detail or a log line: at most limit bytes, every byte outside
// printable ASCII replaced by '?', and "..." appended when it was cut.
// A negative limit counts as zero.
func Excerpt(s string, limit int) string {
	limit = max(limit, 0)
	cut := len(s) > limit
	if cut {
		s = s[:limit]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if cut {
		return string(b) + "..."
	}
	return string(b)
}
