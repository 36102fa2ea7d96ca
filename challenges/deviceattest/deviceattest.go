package deviceattest

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acmegate/acmegate/challenges"
)

// Type is the challenge type (draft-ietf-acme-device-attest-09, Section 5).
const Type = "device-attest-01"

// KindBadAttestationStatement is the ACME error type for an attestation
// statement the server will not accept (draft-ietf-acme-device-attest-09,
// Section 9.3). It belongs with the other kinds in package challenges.
const KindBadAttestationStatement = "badAttestationStatement"

// kindIdentifierMismatch is the kind returned when a valid attestation
// names another device than the identifier being validated. See the
// divergences in the package documentation.
const kindIdentifierMismatch = challenges.KindRejectedIdentifier

// Attestation statement formats, as they appear in the attObj "fmt" field.
const (
	FormatApple = "apple"
	FormatTPM   = "tpm"
	FormatStep  = "step"
)

// MaxPayloadSize bounds the challenge response payload, in bytes. Larger
// payloads are refused before any decoding.
const MaxPayloadSize = 64 << 10

// AnswerPrefix starts the first answer of the [challenges.Record] returned
// by [Validator.Validate]; the hex SHA-256 digest of the attested key
// follows. See [KeyAnswer].
const AnswerPrefix = "attested-key-sha256:"

// Roots holds the trust anchors for each attestation format, from the
// configuration. A nil pool disables nothing by itself, but [New] refuses
// to enable a format whose pool is nil.
type Roots struct {
	// Apple holds the Apple Enterprise Attestation root(s).
	Apple *x509.CertPool
	// TPM holds the roots that issue attestation key (AK) certificates.
	TPM *x509.CertPool
	// Step holds the Yubico PIV attestation root(s).
	Step *x509.CertPool
}

// Options configures a [Validator].
type Options struct {
	// Roots are the trust anchors per format.
	Roots Roots
	// Formats lists the enabled formats: [FormatApple], [FormatTPM],
	// [FormatStep]. At least one is required.
	Formats []string
	// Now is the clock used to check certificate validity and time the
	// record. Nil means time.Now.
	Now func() time.Time
	// AppleTokenNonce makes the apple format expect the nonce extension to
	// hold SHA-256(token) instead of SHA-256(keyAuthorization). Apple
	// devices obtain the attestation from Apple before they can bind the
	// account key (draft-ietf-acme-device-attest-09, Section 5); false, the
	// default, requires the stronger binding to the key authorization.
	AppleTokenNonce bool
}

// Result is what a successful verification established.
type Result struct {
	// Format is the attestation statement format, e.g. [FormatTPM].
	Format string
	// PermanentIdentifier is the permanent-identifier value that the
	// attestation was found to name; empty for a hardware-module identifier.
	PermanentIdentifier string
	// HardwareModule is the hardware-module value that the attestation was
	// found to name; empty for a permanent-identifier.
	HardwareModule string
	// PublicKey is the attested key, the only key the certificate may
	// certify.
	PublicKey crypto.PublicKey
	// SPKI is the DER SubjectPublicKeyInfo of PublicKey, as produced by
	// x509.MarshalPKIXPublicKey.
	SPKI []byte
}

// Validator validates device-attest-01 challenges. It performs no network
// or storage access and is safe for concurrent use.
type Validator struct {
	opts    Options
	enabled map[string]bool
}

var _ challenges.Validator = (*Validator)(nil)

// New returns a Validator for the enabled formats. It returns an error
// naming the problem when a format is unknown, listed twice, or has no
// roots, or when no format is enabled.
func New(opts Options) (*Validator, error) {
	if len(opts.Formats) == 0 {
		return nil, errors.New("deviceattest: no attestation format enabled")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	enabled := make(map[string]bool, len(opts.Formats))
	for _, f := range opts.Formats {
		pool, known := opts.Roots.pool(f)
		switch {
		case !known:
			return nil, fmt.Errorf("deviceattest: unknown attestation format %q", f)
		case enabled[f]:
			return nil, fmt.Errorf("deviceattest: attestation format %q listed twice", f)
		case pool == nil:
			return nil, fmt.Errorf("deviceattest: attestation format %q has no roots", f)
		}
		enabled[f] = true
	}
	opts.Formats = slices.Clone(opts.Formats)
	return &Validator{opts: opts, enabled: enabled}, nil
}

// pool returns the roots for a format and whether the format is known.
func (r Roots) pool(format string) (*x509.CertPool, bool) {
	switch format {
	case FormatApple:
		return r.Apple, true
	case FormatTPM:
		return r.TPM, true
	case FormatStep:
		return r.Step, true
	}
	return nil, false
}

// Validate verifies the attestation in req.Payload; see [Validator.Verify]
// for the rules and errors. On success the record's first answer is
// [AnswerPrefix] followed by the hex SHA-256 of the attested key's SPKI,
// which the state machine must compare with [KeyAnswer] of the finalize
// CSR's key; the second answer is "format:" and the format. The record is
// returned in every case.
func (v *Validator) Validate(
	ctx context.Context,
	req challenges.Request,
) (challenges.Record, error) {
	rec := challenges.Record{Type: Type, Started: v.opts.Now()}
	res, err := v.verify(ctx, req, rec.Started)
	rec.Duration = v.opts.Now().Sub(rec.Started)
	if err != nil {
		return rec, err
	}
	rec.Answers = []string{answer(res.SPKI), "format:" + res.Format}
	return rec, nil
}

// KeyAnswer returns the string that [Validator.Validate] records for an
// attested key: [AnswerPrefix] and the hex SHA-256 of the key's DER
// SubjectPublicKeyInfo. At finalize the state machine computes it for the
// CSR's public key and requires it to equal the recorded answer. It fails
// only for key types x509.MarshalPKIXPublicKey does not support.
func KeyAnswer(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("deviceattest: encoding public key: %w", err)
	}
	return answer(spki), nil
}

func answer(spki []byte) string {
	sum := sha256.Sum256(spki)
	return AnswerPrefix + hex.EncodeToString(sum[:])
}

// Verify checks a device-attest-01 response (draft-ietf-acme-device-attest-09,
// Section 5): the payload's attObj must be a statement in an enabled
// format, chain to that format's configured roots at the validator's
// clock time, be bound to req.KeyAuthorization, and name the device in
// req.Identifier. It returns a *[challenges.Error] of kind
// [challenges.KindMalformed] for a request or payload that is not usable
// (wrong identifier type or syntax, payload over [MaxPayloadSize], not a
// JSON object, no attObj), [KindBadAttestationStatement] for any fault in
// the attestation, and [challenges.KindRejectedIdentifier] when a valid
// attestation names another device. Other errors are internal faults.
func (v *Validator) Verify(ctx context.Context, req challenges.Request) (*Result, error) {
	return v.verify(ctx, req, v.opts.Now())
}

// verify is Verify with the time at which certificates must be valid.
func (v *Validator) verify(
	ctx context.Context,
	req challenges.Request,
	now time.Time,
) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("deviceattest: %w", err)
	}
	id, err := checkRequest(req)
	if err != nil {
		return nil, err
	}

	// 1. Decode: JSON payload, base64url attObj, CBOR attestation object.
	raw, err := decodePayload(req.Payload)
	if err != nil {
		return nil, err
	}
	obj, err := decodeAttestationObject(raw)
	if err != nil {
		return nil, err
	}

	// 2. Dispatch on the format; each verifier checks the chain, the
	// binding to the key authorization and extracts the device identity.
	if !v.enabled[obj.Format] {
		if _, known := v.opts.Roots.pool(obj.Format); known {
			return nil, badf("attestation format %q is not enabled", obj.Format)
		}
		return nil, badf("unsupported attestation format %q", challenges.Excerpt(obj.Format, 32))
	}
	pool, _ := v.opts.Roots.pool(obj.Format)
	in := input{
		stmt:     obj.AttStmt,
		roots:    pool,
		now:      now,
		keyAuth:  req.KeyAuthorization,
		token:    req.Token,
		tokenSum: v.opts.AppleTokenNonce,
	}
	var att *attested
	switch obj.Format {
	case FormatApple:
		att, err = verifyApple(in)
	case FormatTPM:
		att, err = verifyTPM(in)
	case FormatStep:
		att, err = verifyStep(in)
	}
	if err != nil {
		return nil, err
	}

	// 3. The attested device must be the one in the order
	// (draft-ietf-acme-device-attest-09, Section 5, step 3).
	if err := id.matches(obj.Format, att); err != nil {
		return nil, err
	}
	return newResult(obj.Format, id, att.key)
}

func newResult(format string, id requestIdentifier, key crypto.PublicKey) (*Result, error) {
	spki, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, badf("%s: attested key of type %T is not supported", format, key)
	}
	res := &Result{Format: format, PublicKey: key, SPKI: spki}
	if id.typ == IdentifierHardwareModule {
		res.HardwareModule = id.value
	} else {
		res.PermanentIdentifier = id.value
	}
	return res, nil
}

// badf returns an error of kind [KindBadAttestationStatement].
func badf(format string, args ...any) *challenges.Error {
	return challenges.Errorf(KindBadAttestationStatement, format, args...)
}

// input is what a format verifier needs from the request and the
// configuration.
type input struct {
	stmt     []byte // the CBOR attStmt map
	roots    *x509.CertPool
	now      time.Time
	keyAuth  string
	token    string
	tokenSum bool // apple: the nonce is SHA-256(token)
}

// attested is what a format verifier extracted from a valid statement.
type attested struct {
	key crypto.PublicKey
	// deviceIDs are identifiers of the device that a permanent-identifier
	// without assigner may equal (apple serial number or UDID, YubiKey
	// serial).
	deviceIDs []string
	// permanentIDs and hardwareModules come from the AK certificate's
	// subjectAltName (tpm).
	permanentIDs    []PermanentIdentifier
	hardwareModules []hardwareModuleName
}

// requestIdentifier is the validated identifier of the request.
type requestIdentifier struct {
	typ, value string
	perm       PermanentIdentifier
	hw         HardwareModule
}

// checkRequest checks what the state machine supplies: the identifier type
// and syntax, the token, and that the key authorization belongs to it.
func checkRequest(req challenges.Request) (requestIdentifier, error) {
	id := requestIdentifier{typ: req.Identifier.Type, value: req.Identifier.Value}
	var err error
	switch id.typ {
	case IdentifierPermanent:
		id.perm, err = ParsePermanentIdentifier(id.value)
	case IdentifierHardwareModule:
		id.hw, err = ParseHardwareModule(id.value)
	default:
		err = challenges.Errorf(challenges.KindMalformed, "identifier type %q cannot use %s",
			challenges.Excerpt(id.typ, 32), Type)
	}
	if err != nil {
		return requestIdentifier{}, err
	}

	// RFC 8555, Section 8.1: keyAuthorization = token || '.' ||
	// base64url(Thumbprint(accountKey)).
	thumbprint, ok := strings.CutPrefix(req.KeyAuthorization, req.Token+".")
	if !isBase64URL(req.Token) || len(req.Token) > 128 || !ok || !isBase64URL(thumbprint) {
		return requestIdentifier{}, challenges.Errorf(challenges.KindMalformed,
			"key authorization does not belong to the challenge token")
	}
	return id, nil
}

// matches reports, as a *challenges.Error, whether the attestation names
// the requested device. The rules per format are in the package
// documentation.
func (id requestIdentifier) matches(format string, att *attested) error {
	switch {
	case id.typ == IdentifierPermanent && id.perm.Assigner == nil &&
		slices.Contains(att.deviceIDs, id.perm.Value):
		return nil
	case id.typ == IdentifierPermanent && slices.ContainsFunc(att.permanentIDs, id.perm.matches):
		return nil
	case id.typ == IdentifierHardwareModule && slices.ContainsFunc(att.hardwareModules, id.hw.matches):
		return nil
	}
	return challenges.Errorf(kindIdentifierMismatch,
		"%s: the attestation does not name the device %s %q",
		format, id.typ, challenges.Excerpt(id.value, 64))
}

// matches reports whether an attested PermanentIdentifier names the
// requested one: the same value octet for octet and, when the request has
// an assigner, the same assigner (draft-ietf-acme-device-attest-09,
// Section 3.2).
func (p PermanentIdentifier) matches(attested PermanentIdentifier) bool {
	if attested.Value != p.Value {
		return false
	}
	return p.Assigner == nil || p.Assigner.Equal(attested.Assigner)
}

// matches reports whether an attested HardwareModuleName names the
// requested hardware module: same type OID, serial equal octet for octet
// (draft-ietf-acme-device-attest-09, Section 4.2).
func (h HardwareModule) matches(attested hardwareModuleName) bool {
	return h.Type.Equal(attested.Type) && string(attested.Serial) == h.Serial
}

// isBase64URL reports whether s is non-empty and uses only the base64url
// alphabet without padding (RFC 4648, Section 5).
func isBase64URL(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return false
		}
	}
	return true
}
