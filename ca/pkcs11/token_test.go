package pkcs11

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/acmegate/acmegate/ca"
)

func TestOpenErrors(t *testing.T) {
	cfg := newSoftHSM(t)
	// No subtest may run while a Token is open: the login state of an open
	// Token would let a wrong PIN through.
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr error
		wantMsg string
	}{
		{"wrong PIN", func(c *Config) { c.PINFile = writePINFile(t, "4321\n") },
			ErrBadPIN, "CKR_PIN_INCORRECT"},
		{"unknown token", func(c *Config) { c.TokenLabel = "no-such-token" },
			ErrTokenNotFound, `"no-such-token"`},
		{"missing module", func(c *Config) { c.Module = filepath.Join(t.TempDir(), "x.so") },
			fs.ErrNotExist, "module"},
		{"missing PIN file", func(c *Config) { c.PINFile = filepath.Join(t.TempDir(), "pin") },
			fs.ErrNotExist, "PIN file"},
		{"empty PIN file", func(c *Config) { c.PINFile = writePINFile(t, "\n") },
			ErrEmptyPIN, "empty PIN"},
		{"invalid config", func(c *Config) { c.KeyLabel = "" },
			ErrInvalidConfig, "key_label"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := cfg
			tt.mutate(&bad)
			tok, err := Open(bad)
			if err == nil {
				tok.Close()
				t.Fatal("Open: got nil error")
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open: got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Open: got %q, want it to contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), testPIN) || strings.Contains(err.Error(), "4321") {
				t.Errorf("Open: error %q reveals a PIN", err)
			}
		})
	}

	// The failures left the module in a state where the right PIN works.
	openToken(t, cfg)
}

func TestGenerateKey(t *testing.T) {
	tok := openToken(t, newSoftHSM(t))
	tests := []struct {
		alg     ca.KeyAlgorithm
		hash    crypto.Hash
		wantPub string
	}{
		{ca.ECDSAP256, crypto.SHA256, "P-256"},
		{ca.ECDSAP384, crypto.SHA384, "P-384"},
		{ca.RSA3072, crypto.SHA256, "RSA-3072"},
		{ca.RSA4096, crypto.SHA384, "RSA-4096"},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			t.Parallel()
			label := "key-" + string(tt.alg)
			s := generateKey(t, tok, label, tt.alg)
			if s.Label() != label || s.Algorithm() != tt.alg {
				t.Errorf("got label %q, algorithm %q; want %q, %q",
					s.Label(), s.Algorithm(), label, tt.alg)
			}
			if got := describePublic(s.Public()); got != tt.wantPub {
				t.Errorf("public key: got %s, want %s", got, tt.wantPub)
			}
			assertProtected(t, tok, s)
			checkSignatures(t, s, tt.hash)

			// The same key is found again by its label.
			found, err := tok.Signer(label)
			if err != nil {
				t.Fatalf("Signer(%q): %v", label, err)
			}
			if !s.Public().(publicKeyEqual).Equal(found.Public()) {
				t.Errorf("Signer(%q) found a different key", label)
			}
			checkSignatures(t, found, tt.hash)
		})
	}
}

// publicKeyEqual is implemented by the standard library's public keys.
type publicKeyEqual interface {
	Equal(crypto.PublicKey) bool
}

// describePublic names the type and size of a public key.
func describePublic(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return k.Curve.Params().Name
	case *rsa.PublicKey:
		return "RSA-" + strconv.Itoa(k.N.BitLen())
	}
	return "unknown"
}

// assertProtected reads the private key's attributes from the token and
// fails unless the key can never leave it and may only sign.
func assertProtected(t *testing.T, tok *Token, s *Signer) {
	t.Helper()
	want := map[crypto11.AttributeType]bool{
		crypto11.CkaToken:            true,
		crypto11.CkaPrivate:          true,
		crypto11.CkaSensitive:        true,
		crypto11.CkaAlwaysSensitive:  true,
		crypto11.CkaExtractable:      false,
		crypto11.CkaNeverExtractable: true,
		crypto11.CkaSign:             true,
		crypto11.CkaDecrypt:          false,
		crypto11.CkaUnwrap:           false,
		crypto11.CkaDerive:           false,
	}
	types := make([]crypto11.AttributeType, 0, len(want))
	for typ := range want {
		types = append(types, typ)
	}
	attrs, err := tok.ctx.GetAttributes(s.key, types)
	if err != nil {
		t.Fatalf("GetAttributes: %v", err)
	}
	for typ, v := range want {
		if got := boolAttr(attrs, typ); got != v {
			t.Errorf("attribute %#x: got %v, want %v", typ, got, v)
		}
	}
}

// checkSignatures signs a digest with s in every scheme its key type
// supports and verifies each signature with the public key.
func checkSignatures(t *testing.T, s crypto.Signer, hash crypto.Hash) {
	t.Helper()
	h := hash.New()
	h.Write([]byte("acmegate pkcs11 test message"))
	digest := h.Sum(nil)

	switch pub := s.Public().(type) {
	case *ecdsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest, hash)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Error("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		sig, err := s.Sign(rand.Reader, digest, hash)
		if err != nil {
			t.Fatalf("Sign PKCS #1 v1.5: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, hash, digest, sig); err != nil {
			t.Errorf("PKCS #1 v1.5 signature: %v", err)
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
		sig, err = s.Sign(rand.Reader, digest, pss)
		if err != nil {
			t.Fatalf("Sign PSS: %v", err)
		}
		if err := rsa.VerifyPSS(pub, hash, digest, sig, pss); err != nil {
			t.Errorf("PSS signature: %v", err)
		}
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

func TestGenerateKeyErrors(t *testing.T) {
	tok := openToken(t, newSoftHSM(t))
	generateKey(t, tok, "taken", ca.ECDSAP256)
	rawKey(t, tok, "taken-raw", elliptic.P256(), 0, nil)

	tests := []struct {
		name    string
		label   string
		alg     ca.KeyAlgorithm
		wantErr error
	}{
		{"empty label", "", ca.ECDSAP256, ErrInvalidConfig},
		{"unknown algorithm", "fresh", "ed25519", ca.ErrUnknownKeyAlgorithm},
		{"label in use", "taken", ca.RSA3072, ErrKeyExists},
		{"label in use outside acmegate", "taken-raw", ca.ECDSAP256, ErrKeyExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tok.GenerateKey(tt.label, tt.alg)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("GenerateKey(%q, %q): got %v, want %v", tt.label, tt.alg, err, tt.wantErr)
			}
		})
	}

	t.Run("default algorithm", func(t *testing.T) {
		t.Parallel()
		s := generateKey(t, tok, "default", "")
		if s.Algorithm() != ca.DefaultKeyAlgorithm {
			t.Errorf("got %q, want %q", s.Algorithm(), ca.DefaultKeyAlgorithm)
		}
	})
}

func TestSignerErrors(t *testing.T) {
	tok := openToken(t, newSoftHSM(t))
	rawKey(t, tok, "extractable", elliptic.P256(), 0,
		map[crypto11.AttributeType]bool{crypto11.CkaExtractable: true})
	rawKey(t, tok, "not-sensitive", nil, 3072,
		map[crypto11.AttributeType]bool{crypto11.CkaSensitive: false})
	rawKey(t, tok, "cannot-sign", elliptic.P384(), 0,
		map[crypto11.AttributeType]bool{crypto11.CkaSign: false})
	rawKey(t, tok, "p521", elliptic.P521(), 0, nil)
	rawKey(t, tok, "rsa2048", nil, 2048, nil)
	rawKey(t, tok, "twice", elliptic.P256(), 0, nil)
	rawKey(t, tok, "twice", elliptic.P256(), 0, nil)

	tests := []struct {
		label   string
		wantErr error
		wantMsg string
	}{
		{"absent", ErrKeyNotFound, `"absent"`},
		{"", ErrInvalidConfig, "empty key label"},
		{"extractable", ErrExtractable, "CKA_EXTRACTABLE"},
		{"not-sensitive", ErrExtractable, "CKA_SENSITIVE"},
		{"cannot-sign", ErrExtractable, "CKA_SIGN"},
		{"p521", ca.ErrUnsupportedKey, "P-521"},
		{"rsa2048", ca.ErrUnsupportedKey, "2048"},
		{"twice", ErrAmbiguousLabel, "2 key pairs"},
	}
	for _, tt := range tests {
		t.Run(cmp.Or(tt.label, "empty"), func(t *testing.T) {
			t.Parallel()
			s, err := tok.Signer(tt.label)
			if s != nil {
				t.Errorf("Signer(%q): got a signer %v, want nil", tt.label, s)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Signer(%q): got %v, want %v", tt.label, err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Signer(%q): got %q, want it to contain %q", tt.label, err, tt.wantMsg)
			}
		})
	}
}

func TestKeyPersistsAcrossOpen(t *testing.T) {
	cfg := newSoftHSM(t)
	tok, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	first := generateKey(t, tok, cfg.KeyLabel, ca.ECDSAP384)
	if err := tok.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	again := openToken(t, cfg)
	found, err := again.Signer(cfg.KeyLabel)
	if err != nil {
		t.Fatalf("Signer after reopening: %v", err)
	}
	if !first.Public().(publicKeyEqual).Equal(found.Public()) {
		t.Error("reopened token has a different key under the label")
	}
	checkSignatures(t, found, crypto.SHA384)
}

// TestDeleteKey checks that a deleted key pair is gone from the token, so
// that its label can be used again.
func TestDeleteKey(t *testing.T) {
	cfg := newSoftHSM(t)
	tok := openToken(t, cfg)
	first := generateKey(t, tok, cfg.KeyLabel, ca.ECDSAP256)
	if err := first.Delete(); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := tok.Signer(cfg.KeyLabel); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Signer after Delete: got %v, want ErrKeyNotFound", err)
	}
	second := generateKey(t, tok, cfg.KeyLabel, ca.ECDSAP256)
	if first.Public().(publicKeyEqual).Equal(second.Public()) {
		t.Error("the label's new key is the deleted one")
	}
	found, err := tok.Signer(cfg.KeyLabel)
	if err != nil {
		t.Fatalf("Signer for the new key: %v", err)
	}
	if !second.Public().(publicKeyEqual).Equal(found.Public()) {
		t.Error("the label names another key than the new one")
	}
}

func TestClose(t *testing.T) {
	cfg := newSoftHSM(t)
	tok, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := generateKey(t, tok, cfg.KeyLabel, ca.ECDSAP256)
	if err := tok.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	digest := make([]byte, 32)
	calls := []struct {
		name string
		call func() error
	}{
		{"Signer", func() error { _, err := tok.Signer(cfg.KeyLabel); return err }},
		{"GenerateKey", func() error { _, err := tok.GenerateKey("x", ca.ECDSAP256); return err }},
		{"Sign", func() error { _, err := s.Sign(rand.Reader, digest, crypto.SHA256); return err }},
		{"Delete", s.Delete},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: got %v, want ErrClosed", c.name, err)
			}
		})
	}

	if s.Public() == nil {
		t.Error("Public after Close: got nil, want the cached key")
	}
	if err := tok.Close(); err != nil {
		t.Errorf("second Close: got %v, want nil", err)
	}
}

// TestCloseWhileSigning checks, under the race detector, that Close waits
// for signatures in progress and that later ones fail with ErrClosed.
func TestCloseWhileSigning(t *testing.T) {
	cfg := newSoftHSM(t)
	tok, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	s := generateKey(t, tok, cfg.KeyLabel, ca.ECDSAP256)
	digest := make([]byte, 32)

	const workers, signatures = 8, 20
	var (
		wg      sync.WaitGroup
		started sync.WaitGroup
	)
	started.Add(workers)
	errs := make(chan error, workers*signatures)
	for range workers {
		wg.Go(func() {
			for i := range signatures {
				sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
				if i == 0 {
					started.Done()
				}
				switch {
				case errors.Is(err, ErrClosed):
				case err != nil:
					errs <- err
				case !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), digest, sig):
					errs <- errors.New("signature does not verify")
				}
			}
		})
	}
	// Close once every worker has signed, while they go on signing.
	started.Wait()
	if err := tok.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Sign: got %v, want a valid signature or ErrClosed", err)
	}
}
