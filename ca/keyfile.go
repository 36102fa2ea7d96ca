package ca

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"fmt"
	"io"
	"os"
)

// pemTypeEncryptedKey is the PEM label for an EncryptedPrivateKeyInfo,
// RFC 7468, Section 11.
const pemTypeEncryptedKey = "ENCRYPTED PRIVATE KEY"

// File modes for what this package writes. Keys are readable by their owner
// only; certificates are public.
const (
	keyFileMode  os.FileMode = 0o600
	certFileMode os.FileMode = 0o644
	dirMode      os.FileMode = 0o700
)

// WriteEncryptedKey writes key to path as a PEM "ENCRYPTED PRIVATE KEY"
// block: PKCS #8 encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC), the
// format `openssl pkcs8` reads. Salt and IV come from rand. The file is
// created with mode 0600 and is never overwritten: if path exists the
// error wraps [ErrExists]. An empty passphrase is refused with
// [ErrEmptyPassphrase].
func WriteEncryptedKey(path string, key crypto.Signer, passphrase []byte, rand io.Reader) error {
	if len(passphrase) == 0 {
		return fmt.Errorf("writing key %s: %w", path, ErrEmptyPassphrase)
	}
	data, err := encryptKeyPEM(key, passphrase, rand)
	if err != nil {
		return fmt.Errorf("encrypting key for %s: %w", path, err)
	}
	if err := writeNewFile(path, data, keyFileMode); err != nil {
		return fmt.Errorf("writing key: %w", err)
	}
	return nil
}

// encryptKeyPEM encrypts key and wraps it in an "ENCRYPTED PRIVATE KEY"
// PEM block.
func encryptKeyPEM(key crypto.Signer, passphrase []byte, rand io.Reader) ([]byte, error) {
	if len(passphrase) == 0 {
		return nil, ErrEmptyPassphrase
	}
	der, err := encryptPKCS8(key, passphrase, keyFileIterations, rand)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeEncryptedKey, Bytes: der}), nil
}

// LoadEncryptedKey reads a key written by [WriteEncryptedKey] (or by
// `openssl pkcs8 -topk8 -v2 aes-256-cbc -v2prf hmacWithSHA256`) and decrypts
// it with passphrase. A wrong passphrase or damaged ciphertext yields an
// error wrapping [ErrBadPassphrase]; an empty passphrase yields
// [ErrEmptyPassphrase].
func LoadEncryptedKey(path string, passphrase []byte) (crypto.Signer, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("loading key %s: %w", path, ErrEmptyPassphrase)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != pemTypeEncryptedKey {
		return nil, fmt.Errorf("loading key %s: no %q PEM block", path, pemTypeEncryptedKey)
	}
	key, err := decryptPKCS8(block.Bytes, passphrase)
	if err != nil {
		return nil, fmt.Errorf("loading key %s: %w", path, err)
	}
	return key, nil
}

// ReadPassphraseFile reads a passphrase from path, dropping any trailing
// newline characters (CR or LF) so that files written with `echo` work.
// Other whitespace is kept: it may be part of the passphrase. A file that
// is empty after trimming yields [ErrEmptyPassphrase].
func ReadPassphraseFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading passphrase: %w", err)
	}
	pass := bytes.TrimRight(data, "\r\n")
	if len(pass) == 0 {
		return nil, fmt.Errorf("reading passphrase %s: %w", path, ErrEmptyPassphrase)
	}
	return pass, nil
}
