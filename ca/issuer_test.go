package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNewIssuerChecks(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	inter, root := p.result.Intermediate, p.result.Root
	interKey := p.issuer.Signer
	leaf, _ := issueFor(t, p, "www.example.com")
	other := newTestPKI(t, nil)

	tests := []struct {
		name    string
		cert    *x509.Certificate
		root    *x509.Certificate
		signer  crypto.Signer
		wantOK  bool
		wantErr error // checked with errors.Is when not nil
	}{
		{"valid", inter, root, interKey, true, nil},
		{"other key", inter, root, newECKey(t), false, ErrKeyMismatch},
		{"leaf as issuer", leaf, root, interKey, false, ErrNotCA},
		{"wrong root", inter, other.result.Root, interKey, false, nil},
		{"nil signer", inter, root, nil, false, nil},
		{"nil root", inter, nil, interKey, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewIssuer(tt.cert, tt.root, tt.signer)
			if got := err == nil; got != tt.wantOK {
				t.Fatalf("NewIssuer: got error %v, want success=%v", err, tt.wantOK)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("NewIssuer: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestIssuerChainAndKeyID(t *testing.T) {
	t.Parallel()
	i := sharedPKI.issuer
	chain := i.ChainPEM()
	block, rest := pem.Decode(chain)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("ChainPEM: got %q, want one CERTIFICATE block", chain)
	}
	if !bytes.Equal(block.Bytes, i.Certificate.Raw) {
		t.Errorf("ChainPEM: got another certificate, want the intermediate")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("ChainPEM: got %d bytes after the intermediate, want none (no root)", len(rest))
	}
	chain[30] ^= 1
	if bytes.Equal(chain, i.ChainPEM()) {
		t.Errorf("ChainPEM: got a shared slice, want a copy")
	}

	id := i.KeyID()
	if !bytes.Equal(id, i.Certificate.SubjectKeyId) || len(id) == 0 {
		t.Errorf("KeyID: got %x, want SKI %x", id, i.Certificate.SubjectKeyId)
	}
	id[0] ^= 1
	if bytes.Equal(id, i.KeyID()) {
		t.Errorf("KeyID: got a shared slice, want a copy")
	}
}

func TestIssuerLogValue(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("loaded", "issuer", sharedPKI.issuer)
	out := buf.String()
	if !strings.Contains(out, "acmegate Intermediate CA") {
		t.Errorf("log: got %q, want the subject", out)
	}
	if strings.Contains(out, "PRIVATE") || strings.Contains(out, "D:") {
		t.Errorf("log: got %q, want no key material", out)
	}
}

func TestLoadIssuerErrors(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		pass    []byte
		wantErr error
	}{
		{"wrong passphrase", func(*testing.T, string) {}, []byte("nope"), ErrBadPassphrase},
		{"root passphrase", func(*testing.T, string) {}, testRootPass, ErrBadPassphrase},
		{"missing intermediate", func(t *testing.T, dir string) {
			removeFile(t, filepath.Join(dir, IntermediateCertFile))
		}, testInterPass, os.ErrNotExist},
		{"missing root", func(t *testing.T, dir string) {
			removeFile(t, filepath.Join(dir, RootCertFile))
		}, testInterPass, os.ErrNotExist},
		{"foreign root", func(t *testing.T, dir string) {
			other := newTestPKI(t, nil)
			removeFile(t, filepath.Join(dir, RootCertFile))
			copyFile(t, other.result.TrustAnchorPath, filepath.Join(dir, RootCertFile))
		}, testInterPass, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for _, name := range []string{RootCertFile, IntermediateCertFile, IntermediateKeyFile} {
				copyFile(t, filepath.Join(p.dataDir, name), filepath.Join(dir, name))
			}
			tt.setup(t, dir)
			_, err := LoadIssuer(dir, tt.pass)
			if err == nil {
				t.Fatalf("LoadIssuer: got success, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("LoadIssuer: got %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func removeFile(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
