package pkcs11

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// maxTokenLabelLength is the size of the label field of CK_TOKEN_INFO,
// PKCS #11 Cryptographic Token Interface Base Specification Version 2.40,
// Section 3.2.
const maxTokenLabelLength = 32

// Config locates a key in a PKCS #11 token. It is one section of the
// gateway configuration; every field is required and has no default.
//
// The PIN is never part of the configuration: it is read from PINFile when
// the token is opened.
type Config struct {
	// Module is the absolute path of the vendor's PKCS #11 library, such as
	// /usr/lib/softhsm/libsofthsm2.so. A bare name is refused so that the
	// dynamic loader's search path cannot pick a different library.
	Module string `yaml:"module"`
	// TokenLabel selects the token by its label (at most 32 bytes).
	TokenLabel string `yaml:"token_label"`
	// PINFile holds the user PIN. One trailing newline (LF or CRLF) is
	// removed; the rest is the PIN, byte for byte.
	PINFile string `yaml:"pin_file"`
	// KeyLabel is the CKA_LABEL of the intermediate key pair: the label
	// `acmegate init` generates and `acmegate serve` signs with.
	KeyLabel string `yaml:"key_label"`
}

// Validate reports the first missing or malformed field by its YAML name,
// wrapping [ErrInvalidConfig]. It does not touch the file system.
func (c Config) Validate() error {
	switch {
	case c.Module == "":
		return fmt.Errorf("%w: module is required", ErrInvalidConfig)
	case !filepath.IsAbs(c.Module):
		return fmt.Errorf("%w: module %q is not an absolute path", ErrInvalidConfig, c.Module)
	case c.TokenLabel == "":
		return fmt.Errorf("%w: token_label is required", ErrInvalidConfig)
	case len(c.TokenLabel) > maxTokenLabelLength:
		return fmt.Errorf("%w: token_label is longer than %d bytes",
			ErrInvalidConfig, maxTokenLabelLength)
	case c.PINFile == "":
		return fmt.Errorf("%w: pin_file is required", ErrInvalidConfig)
	case c.KeyLabel == "":
		return fmt.Errorf("%w: key_label is required", ErrInvalidConfig)
	}
	return nil
}

// readPIN returns the PIN stored in path without its trailing newline.
func readPIN(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading PIN file: %w", err)
	}
	pin := bytes.TrimSuffix(data, []byte("\n"))
	pin = bytes.TrimSuffix(pin, []byte("\r"))
	if len(pin) == 0 {
		return "", fmt.Errorf("reading PIN file %s: %w", path, ErrEmptyPIN)
	}
	return string(pin), nil
}
