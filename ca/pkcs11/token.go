package pkcs11

import (
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"

	"github.com/acmegate/acmegate/ca"
)

// keyIDLength is the size of the random CKA_ID given to generated key
// pairs. The ID ties the private half to the public half; keys are found
// by label.
const keyIDLength = 16

// crypto11TokenNotFound is the text of crypto11's unexported error for a
// token label that matches no slot (crypto11 v1.6.2).
const crypto11TokenNotFound = "could not find PKCS#11 token"

// Token is a logged-in session pool on one PKCS #11 token. Open it with
// [Open] and release it with [Token.Close].
//
// A Token is safe for concurrent use, and so are the signers it returns.
// [Token.Close] waits for signatures in progress; afterwards every call,
// including signing with keys already obtained, fails with [ErrClosed].
type Token struct {
	label string

	// mu guards closed and the context's lifetime: calls hold it for
	// reading, Close for writing.
	mu     sync.RWMutex
	closed bool
	ctx    *crypto11.Context

	// gen serializes key generation so that two calls cannot create the
	// same label between the check and the generation.
	gen sync.Mutex
}

// Open loads cfg.Module, finds the token labelled cfg.TokenLabel and logs
// in as the normal user with the PIN read from cfg.PINFile.
//
// Errors wrap [ErrInvalidConfig], [ErrEmptyPIN], [ErrTokenNotFound],
// [ErrBadPIN] or [ErrPINLocked]; a missing module file or PIN file wraps
// fs.ErrNotExist.
//
// Login state belongs to the process, not to the Token: while one Token is
// open on a token, opening a second one on the same token succeeds without
// checking its PIN.
func Open(cfg Config) (*Token, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("opening token: %w", err)
	}
	// The loader reports a missing library vaguely; say it plainly.
	if _, err := os.Stat(cfg.Module); err != nil {
		return nil, fmt.Errorf("opening token: module: %w", err)
	}
	pin, err := readPIN(cfg.PINFile)
	if err != nil {
		return nil, fmt.Errorf("opening token %q: %w", cfg.TokenLabel, err)
	}
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:       cfg.Module,
		TokenLabel: cfg.TokenLabel,
		Pin:        pin,
	})
	if err != nil {
		return nil, fmt.Errorf("opening token %q with module %s: %w",
			cfg.TokenLabel, cfg.Module, classify(err))
	}
	return &Token{label: cfg.TokenLabel, ctx: ctx}, nil
}

// classify puts one of our sentinel errors in front of a module error that
// has a specific meaning, keeping the original in the chain.
func classify(err error) error {
	var rv p11.Error
	if errors.As(err, &rv) {
		switch rv {
		case p11.CKR_PIN_INCORRECT, p11.CKR_PIN_INVALID, p11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("%w: %w", ErrBadPIN, err)
		case p11.CKR_PIN_LOCKED:
			return fmt.Errorf("%w: %w", ErrPINLocked, err)
		}
	}
	if strings.Contains(err.Error(), crypto11TokenNotFound) {
		return fmt.Errorf("%w: %w", ErrTokenNotFound, err)
	}
	return err
}

// Close logs out, closes the sessions and unloads the module once no other
// Token uses it. It waits for signatures in progress. Closing a closed
// Token does nothing and returns nil.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.ctx.Close(); err != nil {
		return fmt.Errorf("closing token %q: %w", t.label, err)
	}
	return nil
}

// GenerateKey creates a key pair of type alg (empty means
// [ca.DefaultKeyAlgorithm]) inside the token, labelled label, and returns
// its signer, a [*Signer]. The private key is a token object that is
// sensitive and never extractable, may sign and may not decrypt, unwrap or
// derive; the public key may only verify. The generated key is checked for
// those properties and deleted again if the token did not honour them.
//
// Errors wrap [ErrInvalidConfig] for an empty label, [ErrKeyExists] when
// a private key already has the label, [ca.ErrUnknownKeyAlgorithm],
// [ErrExtractable] or [ErrClosed].
func (t *Token) GenerateKey(label string, alg ca.KeyAlgorithm) (crypto.Signer, error) {
	if label == "" {
		return nil, fmt.Errorf("generating key: %w: empty key label", ErrInvalidConfig)
	}
	alg, err := ca.ParseKeyAlgorithm(string(alg))
	if err != nil {
		return nil, fmt.Errorf("generating key %q: %w", label, err)
	}

	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, fmt.Errorf("generating key %q: %w", label, ErrClosed)
	}
	t.gen.Lock()
	defer t.gen.Unlock()

	// 1. Never create a second key under a label in use.
	existing, err := t.ctx.FindPrivateKeys(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("generating key %q: looking for existing keys: %w", label, err)
	}
	if len(existing) > 0 {
		return nil, fmt.Errorf("generating key %q: %w", label, ErrKeyExists)
	}
	// 2. Generate inside the token.
	key, err := t.generate(label, alg)
	if err != nil {
		return nil, fmt.Errorf("generating %s key %q: %w", alg, label, err)
	}
	// 3. Trust the token's attributes, not our template.
	if err := t.checkProtected(key); err != nil {
		if delErr := key.Delete(); delErr != nil {
			err = errors.Join(err, fmt.Errorf("deleting the key: %w", delErr))
		}
		return nil, fmt.Errorf("generating key %q: %w", label, err)
	}
	return &Signer{token: t, key: key, label: label, alg: alg}, nil
}

// generate asks the token for a key pair of type alg with the attribute
// templates of [keyTemplates].
func (t *Token) generate(label string, alg ca.KeyAlgorithm) (crypto11.Signer, error) {
	id := make([]byte, keyIDLength)
	if _, err := rand.Read(id); err != nil {
		return nil, fmt.Errorf("choosing key ID: %w", err)
	}
	public, private, err := keyTemplates(id, label)
	if err != nil {
		return nil, err
	}
	switch alg {
	case ca.ECDSAP256:
		return t.ctx.GenerateECDSAKeyPairWithAttributes(public, private, elliptic.P256())
	case ca.ECDSAP384:
		return t.ctx.GenerateECDSAKeyPairWithAttributes(public, private, elliptic.P384())
	case ca.RSA3072:
		return t.ctx.GenerateRSAKeyPairWithAttributes(public, private, 3072)
	case ca.RSA4096:
		return t.ctx.GenerateRSAKeyPairWithAttributes(public, private, 4096)
	}
	return nil, fmt.Errorf("%w: %q", ca.ErrUnknownKeyAlgorithm, alg)
}

// keyTemplates returns the attributes of a new CA key pair. Attributes
// set here take precedence over crypto11's defaults (which, for RSA, allow
// decryption).
func keyTemplates(id []byte, label string) (crypto11.AttributeSet, crypto11.AttributeSet, error) {
	public, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	if err != nil {
		return nil, nil, fmt.Errorf("building public key template: %w", err)
	}
	private, err := crypto11.NewAttributeSetWithIDAndLabel(id, []byte(label))
	if err != nil {
		return nil, nil, fmt.Errorf("building private key template: %w", err)
	}
	if err := setAll(public, map[crypto11.AttributeType]bool{
		crypto11.CkaToken:   true,
		crypto11.CkaVerify:  true,
		crypto11.CkaEncrypt: false,
		crypto11.CkaWrap:    false,
	}); err != nil {
		return nil, nil, fmt.Errorf("building public key template: %w", err)
	}
	if err := setAll(private, map[crypto11.AttributeType]bool{
		crypto11.CkaToken:       true,
		crypto11.CkaPrivate:     true,
		crypto11.CkaSensitive:   true,
		crypto11.CkaExtractable: false,
		crypto11.CkaSign:        true,
		crypto11.CkaDecrypt:     false,
		crypto11.CkaUnwrap:      false,
		crypto11.CkaDerive:      false,
	}); err != nil {
		return nil, nil, fmt.Errorf("building private key template: %w", err)
	}
	return public, private, nil
}

// setAll sets boolean attributes on set.
func setAll(set crypto11.AttributeSet, values map[crypto11.AttributeType]bool) error {
	for typ, v := range values {
		if err := set.Set(typ, v); err != nil {
			return err
		}
	}
	return nil
}

// Signer finds the key pair labelled label and returns its signer, a
// [*Signer]. The key must be sensitive, not extractable and allowed to
// sign, and be one of the [ca.KeyAlgorithms].
//
// Errors wrap [ErrInvalidConfig] for an empty label, [ErrKeyNotFound],
// [ErrAmbiguousLabel], [ErrExtractable], [ca.ErrUnsupportedKey] or
// [ErrClosed].
func (t *Token) Signer(label string) (crypto.Signer, error) {
	if label == "" {
		return nil, fmt.Errorf("finding key: %w: empty key label", ErrInvalidConfig)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return nil, fmt.Errorf("finding key %q: %w", label, ErrClosed)
	}

	keys, err := t.ctx.FindKeyPairs(nil, []byte(label))
	if err != nil {
		return nil, fmt.Errorf("finding key %q: %w", label, err)
	}
	switch len(keys) {
	case 0:
		return nil, fmt.Errorf("finding key %q in token %q: %w", label, t.label, ErrKeyNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("finding key %q in token %q: %d key pairs: %w",
			label, t.label, len(keys), ErrAmbiguousLabel)
	}
	key := keys[0]
	alg, err := algorithmOf(key.Public())
	if err != nil {
		return nil, fmt.Errorf("finding key %q: %w", label, err)
	}
	if err := t.checkProtected(key); err != nil {
		return nil, fmt.Errorf("finding key %q: %w", label, err)
	}
	return &Signer{token: t, key: key, label: label, alg: alg}, nil
}

// checkProtected reads the private key's attributes back from the token
// and reports [ErrExtractable] unless it is sensitive, not extractable and
// allowed to sign. The caller holds t.mu.
func (t *Token) checkProtected(key crypto11.Signer) error {
	attrs, err := t.ctx.GetAttributes(key, []crypto11.AttributeType{
		crypto11.CkaSensitive,
		crypto11.CkaExtractable,
		crypto11.CkaSign,
	})
	if err != nil {
		return fmt.Errorf("reading key attributes: %w", err)
	}
	switch {
	case !boolAttr(attrs, crypto11.CkaSensitive):
		return fmt.Errorf("%w: CKA_SENSITIVE is false", ErrExtractable)
	case boolAttr(attrs, crypto11.CkaExtractable):
		return fmt.Errorf("%w: CKA_EXTRACTABLE is true", ErrExtractable)
	case !boolAttr(attrs, crypto11.CkaSign):
		return fmt.Errorf("%w: CKA_SIGN is false", ErrExtractable)
	}
	return nil
}

// boolAttr reports whether the CK_BBOOL attribute typ is present in attrs
// and true.
func boolAttr(attrs crypto11.AttributeSet, typ crypto11.AttributeType) bool {
	a, ok := attrs[typ]
	return ok && a != nil && len(a.Value) == 1 && a.Value[0] != 0
}
