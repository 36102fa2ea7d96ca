package ca

import (
	"bytes"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestEncryptedKeyRoundTrip(t *testing.T) {
	t.Parallel()
	// RSA-4096 keys are covered by TestCeremonyKeyAlgorithms.
	for _, alg := range []KeyAlgorithm{ECDSAP256, ECDSAP384, RSA3072} {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			key, err := GenerateKey(alg, rand.Reader)
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			pass := []byte("correct horse")
			if err := WriteEncryptedKey(path, key, pass, rand.Reader); err != nil {
				t.Fatalf("WriteEncryptedKey: %v", err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := info.Mode().Perm(); got != 0o600 {
				t.Errorf("mode: got %v, want 0600", got)
			}
			loaded, err := LoadEncryptedKey(path, pass)
			if err != nil {
				t.Fatalf("LoadEncryptedKey: %v", err)
			}
			if !loaded.Public().(publicKeyEqual).Equal(key.Public()) {
				t.Errorf("loaded key: got a different public key, want the written one")
			}
		})
	}
}

func TestEncryptedKeyFileFormat(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := WriteEncryptedKey(path, newECKey(t), []byte("pass"), rand.Reader); err != nil {
		t.Fatalf("WriteEncryptedKey: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, rest := pem.Decode(data)
	if block == nil {
		t.Fatalf("PEM: got no block, want one")
	}
	if block.Type != "ENCRYPTED PRIVATE KEY" {
		t.Errorf("PEM type: got %q, want %q", block.Type, "ENCRYPTED PRIVATE KEY")
	}
	if len(rest) != 0 {
		t.Errorf("trailing data: got %d bytes, want 0", len(rest))
	}
	if bytes.Contains(data, []byte("BEGIN PRIVATE KEY")) ||
		bytes.Contains(data, []byte("EC PRIVATE")) {
		t.Errorf("file: got a clear-text key block, want only an encrypted one")
	}
}

func TestWriteEncryptedKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.pem")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		pass []byte
		want error
	}{
		{"existing file", existing, []byte("pass"), ErrExists},
		{"empty passphrase", filepath.Join(dir, "new.pem"), nil, ErrEmptyPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := WriteEncryptedKey(tt.path, newECKey(t), tt.pass, rand.Reader)
			if !errors.Is(err, tt.want) {
				t.Errorf("WriteEncryptedKey: got %v, want %v", err, tt.want)
			}
		})
	}
	if data, _ := os.ReadFile(existing); string(data) != "keep me" {
		t.Errorf("existing file: got %q, want it unchanged", data)
	}
}

func TestLoadEncryptedKeyErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pem")
	if err := WriteEncryptedKey(good, newECKey(t), []byte("right"), rand.Reader); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	block.Bytes[len(block.Bytes)-20] ^= 0xff // inside the ciphertext
	corrupt := filepath.Join(dir, "corrupt.pem")
	if err := os.WriteFile(corrupt, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(dir, "plain.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		path    string
		pass    []byte
		wantErr error
		wantMsg string
	}{
		{"wrong passphrase", good, []byte("wrong"), ErrBadPassphrase,
			"ca: wrong passphrase or corrupt key file"},
		{"corrupt ciphertext", corrupt, []byte("right"), ErrBadPassphrase, ""},
		{"empty passphrase", good, nil, ErrEmptyPassphrase, ""},
		{"missing file", filepath.Join(dir, "nope.pem"), []byte("right"), os.ErrNotExist, ""},
		{"not PEM", notPEM, []byte("right"), nil, "no \"ENCRYPTED PRIVATE KEY\" PEM block"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := LoadEncryptedKey(tt.path, tt.pass)
			if err == nil {
				t.Fatalf("LoadEncryptedKey: got key %T, want an error", key)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error: got %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message: got %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestReadPassphraseFile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		content string
		want    string
		wantErr error
	}{
		{"no newline", "secret", "secret", nil},
		{"LF", "secret\n", "secret", nil},
		{"CRLF", "secret\r\n", "secret", nil},
		{"several newlines", "secret\n\n", "secret", nil},
		{"inner and leading spaces kept", "  my secret \n", "  my secret ", nil},
		{"empty", "", "", ErrEmptyPassphrase},
		{"only newline", "\n", "", ErrEmptyPassphrase},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "pass")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := ReadPassphraseFile(path)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error: got %v, want %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("passphrase: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestOpenSSLInterop checks both directions against the openssl command:
// it reads our files, and we read the PBES2 files it writes.
func TestOpenSSLInterop(t *testing.T) {
	t.Parallel()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed; skipping interoperability check")
	}
	const pass = "interop pass"
	for _, alg := range []KeyAlgorithm{ECDSAP256, RSA3072} {
		t.Run("openssl reads "+string(alg), func(t *testing.T) {
			t.Parallel()
			key, err := GenerateKey(alg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := WriteEncryptedKey(path, key, []byte(pass), rand.Reader); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(openssl, "pkcs8", "-in", path,
				"-passin", "pass:"+pass).CombinedOutput()
			if err != nil {
				t.Fatalf("openssl pkcs8: %v\n%s", err, out)
			}
			if !bytes.Contains(out, []byte("BEGIN PRIVATE KEY")) {
				t.Errorf("openssl output: got %q, want a PRIVATE KEY block", out)
			}
			bad, err := exec.Command(openssl, "pkcs8", "-in", path,
				"-passin", "pass:wrong").CombinedOutput()
			if err == nil {
				t.Errorf("openssl with wrong passphrase: got success (%s), want failure", bad)
			}
		})
	}
	t.Run("we read openssl", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		plain := filepath.Join(dir, "plain.pem")
		enc := filepath.Join(dir, "enc.pem")
		run(t, openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384",
			"-out", plain)
		run(t, openssl, "pkcs8", "-topk8", "-in", plain, "-out", enc, "-v2", "aes-256-cbc",
			"-v2prf", "hmacWithSHA256", "-passout", "pass:"+pass)
		if _, err := LoadEncryptedKey(enc, []byte(pass)); err != nil {
			t.Errorf("LoadEncryptedKey(openssl file): got %v, want nil", err)
		}
		if _, err := LoadEncryptedKey(enc, []byte("nope")); !errors.Is(err, ErrBadPassphrase) {
			t.Errorf("LoadEncryptedKey(wrong pass): got %v, want %v", err, ErrBadPassphrase)
		}
	})
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// TestPBKDF2ProductionCount checks the iteration count that ships, which
// TestMain lowers for every other test.
func TestPBKDF2ProductionCount(t *testing.T) {
	t.Parallel()
	key := newECKey(t)
	der, err := encryptPKCS8(key, []byte("pass"), pbkdf2Iterations, rand.Reader)
	if err != nil {
		t.Fatalf("encryptPKCS8: %v", err)
	}
	var info encryptedPrivateKeyInfo
	var params pbes2Params
	var kdf pbkdf2Params
	if err := unmarshalStrict(der, &info); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalStrict(info.Algorithm.Parameters.FullBytes, &params); err != nil {
		t.Fatal(err)
	}
	if err := unmarshalStrict(params.KeyDerivationFunc.Parameters.FullBytes, &kdf); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"iterations", kdf.IterationCount, 600_000},
		{"salt length", len(kdf.Salt), 16},
		{"PRF", kdf.PRF.Algorithm.String(), "1.2.840.113549.2.9"},
		{"cipher", params.EncryptionScheme.Algorithm.String(), "2.16.840.1.101.3.4.1.42"},
	}
	for _, c := range checks {
		if !equalish(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	got, err := decryptPKCS8(der, []byte("pass"))
	if err != nil {
		t.Fatalf("decryptPKCS8: %v", err)
	}
	if !got.Public().(publicKeyEqual).Equal(key.Public()) {
		t.Errorf("decrypted key: got a different public key, want the original")
	}

	openssl, err := exec.LookPath("openssl")
	if err != nil {
		return
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: pemTypeEncryptedKey, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, openssl, "pkcs8", "-in", path, "-passin", "pass:pass", "-out", os.DevNull)
}
