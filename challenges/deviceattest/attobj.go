package deviceattest

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/acmegate/acmegate/challenges"
)

// maxChain bounds the certificates in an x5c array: a leaf and at most
// three intermediates.
const maxChain = 4

// attestationObject is the WebAuthn attestation object (WebAuthn Level 2,
// Section 6.5.4) as the draft uses it: authData, if sent, is ignored
// (draft-ietf-acme-device-attest-09, Section 5). Unknown keys are ignored.
type attestationObject struct {
	Format  string          `cbor:"fmt"`
	AttStmt cbor.RawMessage `cbor:"attStmt"`
}

// decMode decodes attestation objects strictly: no duplicate map keys (two
// decoders could otherwise disagree on which one counts), no
// indefinite-length items, no tags, case-sensitive keys, shallow nesting
// and short arrays and maps. Anything else is not an attestation we know.
var decMode = mustDecMode()

func mustDecMode() cbor.DecMode {
	dm, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   6,
		MaxArrayElements:  16,
		MaxMapPairs:       16,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic("deviceattest: invalid CBOR decoding options: " + err.Error())
	}
	return dm
}

// decodePayload extracts the attObj bytes from the challenge response
// payload {"attObj": base64url(CBOR)} (draft-ietf-acme-device-attest-09,
// Section 5). The payload must be a JSON object of at most MaxPayloadSize
// bytes with exactly one "attObj" member, a string; other members are
// ignored, as that section requires.
func decodePayload(payload []byte) ([]byte, error) {
	if len(payload) > MaxPayloadSize {
		return nil, challenges.Errorf(challenges.KindMalformed,
			"payload of %d bytes exceeds the limit of %d", len(payload), MaxPayloadSize)
	}
	attObj, err := attObjMember(payload)
	if err != nil {
		return nil, challenges.Errorf(challenges.KindMalformed, "payload: %s", err)
	}
	if attObj == "" {
		return nil, badf("attObj is empty")
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(attObj)
	if err != nil {
		return nil, badf("attObj is not base64url without padding")
	}
	return raw, nil
}

// attObjMember walks the top level of a JSON object and returns its
// "attObj" member. Names are matched exactly, unlike encoding/json struct
// decoding, and a repeated "attObj" is an error.
func attObjMember(payload []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", errors.New("not a JSON object")
	}
	var attObj string
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", errors.New("not a JSON object")
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return "", errors.New("not a JSON object")
		}
		if tok != "attObj" {
			continue
		}
		if seen {
			return "", errors.New("attObj appears twice")
		}
		seen = true
		if err := json.Unmarshal(value, &attObj); err != nil || string(value) == "null" {
			return "", errors.New("attObj is not a string")
		}
	}
	if _, err := dec.Token(); err != nil {
		return "", errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("data after the JSON object")
	}
	if !seen {
		return "", errors.New("attObj is missing")
	}
	return attObj, nil
}

// decodeAttestationObject decodes the CBOR attestation object.
func decodeAttestationObject(raw []byte) (*attestationObject, error) {
	var obj attestationObject
	if err := decMode.Unmarshal(raw, &obj); err != nil {
		return nil, badf("attObj is not a valid CBOR attestation object: %s", cborReason(err))
	}
	if obj.Format == "" {
		return nil, badf("attObj has no fmt")
	}
	if len(obj.AttStmt) == 0 {
		return nil, badf("attObj has no attStmt")
	}
	return &obj, nil
}

// decodeStatement decodes an attStmt map into a format's structure.
func decodeStatement(format string, stmt []byte, v any) error {
	if err := decMode.Unmarshal(stmt, v); err != nil {
		return badf("%s: attStmt is malformed: %s", format, cborReason(err))
	}
	return nil
}

// cborReason describes a CBOR decoding error briefly, without echoing the
// input.
func cborReason(err error) string {
	var (
		typeErr *cbor.UnmarshalTypeError
		dupErr  *cbor.DupMapKeyError
		syntax  *cbor.SyntaxError
		extra   *cbor.ExtraneousDataError
	)
	switch {
	case errors.As(err, &typeErr):
		return "a field has the wrong type"
	case errors.As(err, &dupErr):
		return "duplicate map key"
	case errors.As(err, &extra):
		return "data after the object"
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "truncated or not CBOR"
	}
	return challenges.Excerpt(err.Error(), 80)
}

// verifyChain parses an x5c array (leaf first) and verifies that the leaf
// chains to roots at time now. Certificate extended key usages are not
// constrained (attestation certificates carry vendor EKUs). fixLeaf, if
// not nil, runs on the parsed leaf before verification.
func verifyChain(
	format string,
	x5c [][]byte,
	roots *x509.CertPool,
	now time.Time,
	fixLeaf func(*x509.Certificate) error,
) (*x509.Certificate, error) {
	if len(x5c) == 0 {
		return nil, badf("%s: x5c is missing or empty", format)
	}
	if len(x5c) > maxChain {
		return nil, badf("%s: x5c has %d certificates, at most %d are accepted",
			format, len(x5c), maxChain)
	}
	certs := make([]*x509.Certificate, len(x5c))
	for i, der := range x5c {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, badf("%s: x5c[%d] is not a valid certificate", format, i)
		}
		certs[i] = c
	}
	leaf := certs[0]
	if fixLeaf != nil {
		if err := fixLeaf(leaf); err != nil {
			return nil, err
		}
	}
	intermediates := x509.NewCertPool()
	for _, c := range certs[1:] {
		intermediates.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, badf("%s: the attestation certificate does not chain to a trusted root: %s",
			format, challenges.Excerpt(err.Error(), 160))
	}
	if leaf.IsCA {
		return nil, badf("%s: the attestation certificate is a CA certificate", format)
	}
	// TODO: attestation certificates are not checked for revocation (CRL or
	// OCSP); WebAuthn Level 2, Section 13.4.2 leaves it to the relying party.
	return leaf, nil
}
