package jws

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// headerMembers are the protected header names acmegate reads or refuses by
// name. A key that differs from one of them only in case is refused, since
// parsers disagree on whether it matches (catalogue A12).
var headerMembers = []string{
	"alg", "nonce", "url", "kid", "jwk",
	"crit", "b64", "zip", "jku", "x5u", "x5c", "x5t", "x5t#S256",
}

// refusedHeaders maps the header members acmegate never accepts to the
// reason given to the client.
var refusedHeaders = map[string]string{
	// RFC 7515, Section 4.1.11: an extension the recipient does not
	// understand must be refused; acmegate understands none.
	"crit": "critical header extensions are not supported",
	// RFC 8555, Section 6.2 payloads are base64url; RFC 7797 is not allowed.
	"b64": "unencoded payloads (RFC 7797) are not allowed",
	"zip": "compressed payloads are not allowed",
	// RFC 8555, Section 6.2: keys are named by jwk or kid only; these
	// would make us fetch URLs or parse certificate chains.
	"jku":      "keys must be given by jwk or kid",
	"x5u":      "keys must be given by jwk or kid",
	"x5c":      "keys must be given by jwk or kid",
	"x5t":      "keys must be given by jwk or kid",
	"x5t#S256": "keys must be given by jwk or kid",
}

// headerType is the shape the strict JSON check expects of a header.
var headerType = reflect.TypeFor[map[string]json.RawMessage]()

// parseProtected decodes the base64url protected header and applies r.
func parseProtected(encoded string, r rules) (*Header, error) {
	// 1. Decode and read the members, refusing duplicates at any depth.
	raw, ok := decodeB64(encoded)
	if !ok {
		return nil, problem.New(problem.Malformed,
			"%s protected header is not unpadded base64url", r.name)
	}
	if err := checkJSON(raw, headerType); err != nil {
		return nil, problem.New(problem.Malformed, "%s protected header: %v", r.name, err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, problem.New(problem.Malformed, "%s protected header is not an object", r.name)
	}
	if err := checkHeaderNames(members, r.name); err != nil {
		return nil, err
	}

	// 2. The algorithm (RFC 8555, Section 6.2).
	hdr := &Header{}
	var err error
	if hdr.Algorithm, err = headerString(members, "alg", r.name); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(hdr.Algorithm, r); err != nil {
		return nil, err
	}

	// 3. The key: jwk and kid are mutually exclusive (RFC 8555, Section 6.2).
	if hdr.KeyID, err = headerString(members, "kid", r.name); err != nil {
		return nil, err
	}
	if hdr.JWK, err = headerJWK(members, hdr.KeyID != "", r); err != nil {
		return nil, err
	}

	// 4. Nonce and url.
	if err := readNonce(hdr, members, r); err != nil {
		return nil, err
	}
	if hdr.URL, err = headerString(members, "url", r.name); err != nil {
		return nil, err
	}
	if hdr.URL == "" {
		return nil, problem.New(problem.Malformed,
			"%s has no url header (RFC 8555, Section 6.4)", r.name)
	}
	return hdr, nil
}

// checkHeaderNames refuses case variants of known names and the members
// acmegate never accepts.
func checkHeaderNames(members map[string]json.RawMessage, name string) error {
	for key := range members {
		for _, known := range headerMembers {
			if key != known && strings.EqualFold(key, known) {
				return problem.New(problem.Malformed,
					"%s protected header member %q differs from %q only in case",
					name, clip(key), known)
			}
		}
		if reason, refused := refusedHeaders[key]; refused {
			return problem.New(problem.Malformed,
				"%s protected header %q: %s", name, key, reason)
		}
	}
	return nil
}

// headerString returns the string member key, "" when it is absent, and
// malformed when it is not a JSON string.
func headerString(members map[string]json.RawMessage, key, name string) (string, error) {
	raw, ok := members[key]
	if !ok {
		return "", nil
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", problem.New(problem.Malformed,
			"%s protected header %q must be a string", name, key)
	}
	return s, nil
}

// checkAlgorithm refuses algorithms outside r.algorithms with
// badSignatureAlgorithm and the accepted list (RFC 8555, Section 6.2).
func checkAlgorithm(alg string, r rules) error {
	if alg == "" {
		return problem.New(problem.Malformed, "%s has no alg header", r.name)
	}
	if slices.Contains(r.algorithms, jose.SignatureAlgorithm(alg)) {
		return nil
	}
	p := problem.New(problem.BadSignatureAlgorithm,
		"%s algorithm %q is not accepted", r.name, clip(alg))
	for _, a := range r.algorithms {
		p.Algorithms = append(p.Algorithms, string(a))
	}
	return p
}

// headerJWK parses the jwk member and applies the key rule of r.
func headerJWK(
	members map[string]json.RawMessage,
	hasKID bool,
	r rules,
) (*jose.JSONWebKey, error) {
	raw, hasJWK := members["jwk"]
	switch {
	case hasJWK && hasKID:
		return nil, problem.New(problem.Malformed,
			"%s must not have both jwk and kid headers (RFC 8555, Section 6.2)", r.name)
	case !hasJWK && !hasKID:
		return nil, problem.New(problem.Malformed,
			"%s must have a jwk or a kid header (RFC 8555, Section 6.2)", r.name)
	case hasJWK && r.key == kidOnly:
		return nil, problem.New(problem.Malformed, "%s must use kid, not jwk", r.name)
	case hasKID && r.key == jwkOnly:
		return nil, problem.New(problem.Malformed, "%s must use jwk, not kid", r.name)
	case !hasJWK:
		return nil, nil
	}
	return parseJWK(raw, true, r.name+" jwk header")
}

// readNonce applies the nonce rule of r (RFC 8555, Section 6.5).
func readNonce(hdr *Header, members map[string]json.RawMessage, r rules) error {
	_, present := members["nonce"]
	if r.nonce == nonceForbidden {
		if present {
			return problem.New(problem.Malformed, "%s must not have a nonce header", r.name)
		}
		return nil
	}
	nonce, err := headerString(members, "nonce", r.name)
	if err != nil {
		return problem.New(problem.BadNonce, "%s nonce header must be a string", r.name)
	}
	if nonce == "" {
		return problem.New(problem.BadNonce,
			"%s has no nonce header (RFC 8555, Section 6.5)", r.name)
	}
	hdr.Nonce = nonce
	return nil
}
