package jws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// Algorithms lists the JWS algorithms accepted for account keys
// (RFC 8555, Section 6.2): never "none" and never a MAC. The caller must not
// modify it.
var Algorithms = []jose.SignatureAlgorithm{
	jose.ES256, jose.ES384, jose.ES512, jose.RS256, jose.PS256, jose.EdDSA,
}

// Header holds the protected header members ACME uses (RFC 8555,
// Section 6.2). Exactly one of KeyID and JWK is set on an outer request.
type Header struct {
	Algorithm string
	Nonce     string
	URL       string
	KeyID     string
	JWK       *jose.JSONWebKey
}

// Request is a parsed flattened JWS whose signature has not been checked
// yet. Its header values may be used to find the key and to check the nonce
// and URL, but nothing else is trusted before [Request.Verify] succeeds.
type Request struct {
	Protected Header
	sig       *jose.JSONWebSignature
}

// nonceRule says whether a JWS must or must not carry a nonce.
type nonceRule int

const (
	nonceRequired nonceRule = iota
	nonceForbidden
)

// keyRule says which of jwk and kid a JWS must carry.
type keyRule int

const (
	jwkOrKID keyRule = iota
	jwkOnly
	kidOnly
)

// rules describe one kind of JWS: the outer request, a key change's inner JWS
// or an external account binding.
type rules struct {
	name       string // used in details: "JWS", "inner JWS", ...
	algorithms []jose.SignatureAlgorithm
	nonce      nonceRule
	key        keyRule
}

var outerRules = rules{
	name:       "JWS",
	algorithms: Algorithms,
	nonce:      nonceRequired,
	key:        jwkOrKID,
}

// Parse parses body as a flattened JSON JWS (RFC 8555, Section 6.2) and
// returns its protected header. It refuses, with a *problem.Error:
//   - anything but a single flattened JSON object: compact serialization,
//     the general "signatures" array, unknown or duplicate outer members,
//     an unprotected "header", an empty signature (malformed);
//   - duplicate or case-variant header members, "crit", "b64", "zip" and
//     the URL or certificate based key headers (malformed);
//   - an algorithm outside [Algorithms] (badSignatureAlgorithm, listing them);
//   - both jwk and kid, or neither, or a missing url (malformed), a missing
//     nonce (badNonce);
//   - an embedded jwk that [CheckKey] refuses (badPublicKey).
//
// Framing is checked before anything is split or decoded, so hostile bodies
// cost little. Parse does not check the signature, the nonce's freshness or
// the URL's value.
func Parse(body []byte) (*Request, error) {
	return parse(body, outerRules)
}

// parse runs the checks of [Parse] under the given rules.
func parse(body []byte, r rules) (*Request, error) {
	// 1. Framing: one flattened JSON object, read before go-jose runs.
	parts, err := splitFlattened(body, r.name)
	if err != nil {
		return nil, err
	}

	// 2. Protected header, against the rules of this kind of JWS.
	hdr, err := parseProtected(parts.protected, r)
	if err != nil {
		return nil, err
	}

	// 3. go-jose builds the object that verifies the signature. It may accept
	// only the algorithm we have already approved.
	obj, err := jose.ParseSignedJSON(
		string(body),
		[]jose.SignatureAlgorithm{jose.SignatureAlgorithm(hdr.Algorithm)},
	)
	if err != nil {
		return nil, problem.New(problem.Malformed, "%s could not be parsed", r.name)
	}

	// 4. Both parsers must have read the same header.
	if len(obj.Signatures) != 1 {
		return nil, problem.New(problem.Malformed, "%s must carry exactly one signature", r.name)
	}
	got := obj.Signatures[0].Protected
	gotURL, _ := got.ExtraHeaders["url"].(string)
	if got.Algorithm != hdr.Algorithm || got.Nonce != hdr.Nonce ||
		got.KeyID != hdr.KeyID || gotURL != hdr.URL {
		return nil, problem.New(problem.Malformed, "%s protected header is ambiguous", r.name)
	}
	return &Request{Protected: *hdr, sig: obj}, nil
}

// flattened holds the three base64url members of a flattened JWS.
type flattened struct {
	protected, payload, signature string
}

// splitFlattened reads the outer object of a flattened JWS (RFC 7515,
// Section 7.2.2) and refuses every other shape: RFC 8555, Section 6.2 allows
// neither the compact nor the general serialization, nor unprotected headers.
func splitFlattened(body []byte, name string) (*flattened, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, problem.New(problem.Malformed, "%s is empty", name)
	}
	if trimmed[0] != '{' {
		return nil, problem.New(problem.Malformed,
			"%s must use the flattened JSON serialization (RFC 8555, Section 6.2)", name)
	}
	if !utf8.Valid(body) {
		return nil, problem.New(problem.Malformed, "%s is not valid UTF-8", name)
	}

	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // the '{' seen above
		return nil, problem.New(problem.Malformed, "%s is not valid JSON", name)
	}
	parts := &flattened{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, problem.New(problem.Malformed, "%s is not valid JSON", name)
		}
		key, _ := tok.(string)
		if err := checkOuterMember(key, seen, name); err != nil {
			return nil, err
		}
		seen[key] = true
		tok, err = dec.Token()
		value, ok := tok.(string)
		if err != nil || !ok {
			return nil, problem.New(problem.Malformed, "%s member %q must be a string", name, key)
		}
		switch key {
		case "protected":
			parts.protected = value
		case "payload":
			parts.payload = value
		case "signature":
			parts.signature = value
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, problem.New(problem.Malformed, "%s is not valid JSON", name)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, problem.New(problem.Malformed, "%s has data after the JSON object", name)
	}
	return parts, checkParts(parts, seen, name)
}

// checkOuterMember refuses an outer member that is unknown or repeated.
func checkOuterMember(key string, seen map[string]bool, name string) error {
	switch key {
	case "protected", "payload", "signature":
		if seen[key] {
			return problem.New(problem.Malformed, "%s has a duplicate %q member", name, key)
		}
		return nil
	case "header":
		return problem.New(problem.Malformed,
			"%s must not have an unprotected header (RFC 8555, Section 6.2)", name)
	case "signatures":
		return problem.New(problem.Malformed,
			"%s must have a single signature in the flattened JSON serialization "+
				"(RFC 8555, Section 6.2)", name)
	default:
		return problem.New(problem.Malformed, "%s has an unknown member %q", name, clip(key))
	}
}

// checkParts makes sure the three members are present, base64url without
// padding, and that the signature is not empty.
func checkParts(parts *flattened, seen map[string]bool, name string) error {
	for _, member := range []string{"protected", "payload", "signature"} {
		if !seen[member] {
			return problem.New(problem.Malformed, "%s has no %q member", name, member)
		}
	}
	if parts.protected == "" {
		return problem.New(problem.Malformed, "%s has an empty protected header", name)
	}
	if parts.signature == "" {
		return problem.New(problem.Malformed, "%s has an empty signature", name)
	}
	if _, ok := decodeB64(parts.payload); !ok {
		return problem.New(problem.Malformed, "%s payload is not unpadded base64url", name)
	}
	if _, ok := decodeB64(parts.signature); !ok {
		return problem.New(problem.Malformed, "%s signature is not unpadded base64url", name)
	}
	return nil
}

// decodeB64 decodes unpadded base64url (RFC 7515, Section 2) in its one
// canonical form: no padding, no line breaks, no stray trailing bits. go-jose
// re-encodes what it decoded when it computes the signing input, so any other
// form could never verify.
func decodeB64(s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_') {
			return nil, false
		}
	}
	out, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, false
	}
	return out, true
}

// clip shortens a client-supplied string before it goes into a detail.
func clip(s string) string {
	const maxLen = 40
	if len(s) <= maxLen {
		return s
	}
	s = strings.ToValidUTF8(s[:maxLen], "")
	return s + "..."
}
