package ca

import (
	"bytes"
	"crypto/x509"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca/catest"
)

func TestCeremonyFiles(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, nil)
	res := p.result
	tests := []struct {
		name string
		path string
		mode os.FileMode
	}{
		{"root/root.pem", filepath.Join(p.rootDir, "root.pem"), 0o644},
		{"root/root-key.pem", filepath.Join(p.rootDir, "root-key.pem"), 0o600},
		{"data/root.pem", filepath.Join(p.dataDir, "root.pem"), 0o644},
		{"data/intermediate.pem", filepath.Join(p.dataDir, "intermediate.pem"), 0o644},
		{"data/intermediate-key.pem", filepath.Join(p.dataDir, "intermediate-key.pem"), 0o600},
		{"root dir", p.rootDir, 0o700},
		{"data dir", p.dataDir, 0o700},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := os.Stat(tt.path)
			if err != nil {
				t.Fatalf("stat: %v", err)
			}
			if got := info.Mode().Perm(); got != tt.mode {
				t.Errorf("mode: got %v, want %v", got, tt.mode)
			}
		})
	}

	// The data directory holds no root key, and its root.pem is the root.
	entries, err := os.ReadDir(p.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"intermediate-key.pem", "intermediate.pem", "root.pem"}
	if !slices.Equal(names, want) {
		t.Errorf("data dir: got %v, want %v", names, want)
	}
	anchor, err := ReadCertificateFile(res.TrustAnchorPath)
	if err != nil {
		t.Fatal(err)
	}
	if !anchor.Equal(res.Root) {
		t.Errorf("data dir root.pem: got %q, want the ceremony's root", anchor.Subject)
	}
	mustLoadKey(t, res.RootKeyPath, testRootPass)
	if _, err := LoadEncryptedKey(res.RootKeyPath, testInterPass); !errors.Is(err, ErrBadPassphrase) {
		t.Errorf("root key with intermediate passphrase: got %v, want %v", err, ErrBadPassphrase)
	}
}

func TestCeremonyRefusesOverwrite(t *testing.T) {
	t.Parallel()
	for _, victim := range []string{"root/root.pem", "root/root-key.pem", "data/root.pem",
		"data/intermediate.pem", "data/intermediate-key.pem"} {
		t.Run(victim, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, victim)
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := RunCeremony(CeremonyOptions{
				RootDir:                filepath.Join(dir, "root"),
				DataDir:                filepath.Join(dir, "data"),
				RootPassphrase:         testRootPass,
				IntermediatePassphrase: testInterPass,
				Now:                    testNow,
			})
			if !errors.Is(err, ErrExists) {
				t.Fatalf("RunCeremony: got %v, want %v", err, ErrExists)
			}
			if data, _ := os.ReadFile(path); string(data) != "precious" {
				t.Errorf("%s: got %q, want it untouched", victim, data)
			}
			files, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
			if len(files) != 1 {
				t.Errorf("files after refusal: got %v, want only %s", files, victim)
			}
		})
	}
	t.Run("second ceremony", func(t *testing.T) {
		t.Parallel()
		p := newTestPKI(t, nil)
		if _, err := RunCeremony(p.opts); !errors.Is(err, ErrExists) {
			t.Errorf("RunCeremony again: got %v, want %v", err, ErrExists)
		}
	})
}

func TestCeremonyOptionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(*CeremonyOptions)
		want   error
	}{
		{"no time", func(o *CeremonyOptions) { o.Now = time.Time{} }, ErrMissingTime},
		{"no root passphrase", func(o *CeremonyOptions) { o.RootPassphrase = nil },
			ErrEmptyPassphrase},
		{"no intermediate passphrase", func(o *CeremonyOptions) { o.IntermediatePassphrase = nil },
			ErrEmptyPassphrase},
		{"unknown algorithm", func(o *CeremonyOptions) { o.KeyAlgorithm = "rsa-1024" },
			ErrUnknownKeyAlgorithm},
		{"intermediate outlives root", func(o *CeremonyOptions) {
			o.RootValidity = 24 * time.Hour
			o.IntermediateValidity = 48 * time.Hour
		}, ErrOutlivesIssuer},
		{"same directory", func(o *CeremonyOptions) { o.DataDir = o.RootDir }, nil},
		{"bad country", func(o *CeremonyOptions) { o.Country = "USA" }, nil},
		{"validity too short", func(o *CeremonyOptions) { o.IntermediateValidity = time.Hour },
			ErrValidity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := CeremonyOptions{
				RootDir:                filepath.Join(dir, "root"),
				DataDir:                filepath.Join(dir, "data"),
				RootPassphrase:         testRootPass,
				IntermediatePassphrase: testInterPass,
				Now:                    testNow,
			}
			tt.mutate(&opts)
			_, err := RunCeremony(opts)
			if err == nil {
				t.Fatalf("RunCeremony: got success, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("RunCeremony: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestCeremonyCertificates(t *testing.T) {
	t.Parallel()
	p := sharedPKI
	root, inter := p.result.Root, p.result.Intermediate

	checks := []struct {
		name string
		got  any
		want any
	}{
		{"root self-signed", root.CheckSignatureFrom(root), error(nil)},
		{"root is CA", root.IsCA && root.BasicConstraintsValid, true},
		{"root path length unset", root.MaxPathLen, -1},
		{"root key usage", root.KeyUsage, x509.KeyUsageCertSign | x509.KeyUsageCRLSign},
		{"root EKU", len(root.ExtKeyUsage), 0},
		{"root SKI length", len(root.SubjectKeyId), 20},
		{"root AKI equals SKI", bytes.Equal(root.AuthorityKeyId, root.SubjectKeyId), true},
		{"root CN", root.Subject.CommonName, "acmegate Root CA"},
		{"root O", root.Subject.Organization, []string{"acmegate"}},
		{"root notBefore", root.NotBefore, testNow.Add(-time.Hour)},
		{"intermediate notBefore", inter.NotBefore, testNow.Add(-time.Hour)},
		{"root lifetime", span(root), DefaultRootValidity},
		{"intermediate signed by root", inter.CheckSignatureFrom(root), error(nil)},
		{"intermediate is CA", inter.IsCA && inter.BasicConstraintsValid, true},
		{"intermediate path length", inter.MaxPathLen, 0},
		{"intermediate path length zero", inter.MaxPathLenZero, true},
		{"intermediate key usage", inter.KeyUsage,
			x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageCRLSign},
		{"intermediate EKU", inter.ExtKeyUsage,
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}},
		{"intermediate AKI is root SKI", bytes.Equal(inter.AuthorityKeyId, root.SubjectKeyId), true},
		{"intermediate SKI length", len(inter.SubjectKeyId), 20},
		{"intermediate CN", inter.Subject.CommonName, "acmegate Intermediate CA"},
		{"intermediate lifetime", span(inter), DefaultIntermediateValidity},
		{"intermediate name constraints", hasExtension(inter, oidNameConstraints), false},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalish(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}

func TestCeremonyNameConstraints(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, func(o *CeremonyOptions) {
		o.PermittedDNSDomains = []string{"example.com", ".corp.example.net"}
		o.ExcludedDNSDomains = []string{"secret.example.com"}
		o.PermittedIPRanges = []*net.IPNet{mustParseCIDR(t, "10.0.0.0/8")}
	})
	inter := p.result.Intermediate
	ext := findExtension(inter, oidNameConstraints)
	if ext == nil {
		t.Fatalf("name constraints: got none, want the extension")
	}
	if !ext.Critical {
		t.Errorf("name constraints critical: got false, want true")
	}
	wantPermitted := []string{"example.com", ".corp.example.net"}
	if got := inter.PermittedDNSDomains; !slices.Equal(got, wantPermitted) {
		t.Errorf("permitted DNS: got %v, want %v", got, wantPermitted)
	}
	wantExcluded := []string{"secret.example.com"}
	if got := inter.ExcludedDNSDomains; !slices.Equal(got, wantExcluded) {
		t.Errorf("excluded DNS: got %v, want %v", got, wantExcluded)
	}
	if len(inter.PermittedIPRanges) != 1 || inter.PermittedIPRanges[0].String() != "10.0.0.0/8" {
		t.Errorf("permitted IPs: got %v, want [10.0.0.0/8]", inter.PermittedIPRanges)
	}
	exclusions := offlineRootExclusions()
	maps.Copy(exclusions, pickExclusions("e_ext_nc_intersects_reserved_ip"))
	catest.LintExcept(t, inter.Raw, exclusions)
}

func TestCeremonyKeyAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range KeyAlgorithms() {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			p := newTestPKI(t, func(o *CeremonyOptions) { o.KeyAlgorithm = alg })
			for _, c := range []*x509.Certificate{p.result.Root, p.result.Intermediate} {
				if got, want := publicKeyAlgorithm(c), alg; got != want {
					t.Errorf("%s key: got %s, want %s", c.Subject.CommonName, got, want)
				}
				catest.LintExcept(t, c.Raw, offlineRootExclusions())
			}
			cert, der := issueFor(t, p, "www.example.com")
			if err := verifyChain(t, p, cert, testNow, "www.example.com"); err != nil {
				t.Errorf("Verify: got %v, want nil", err)
			}
			catest.LintExcept(t, der, leafExclusions())
		})
	}
}

func TestCeremonyLintStrict(t *testing.T) {
	t.Parallel()
	// With a country and published root URLs, CA certificates lint clean
	// with no exclusion at all.
	p := newTestPKI(t, func(o *CeremonyOptions) {
		o.Country = "US"
		o.RootCRLURL = "http://pki.example.com/root.crl"
		o.RootCertURL = "http://pki.example.com/root.crt"
	})
	catest.LintExcept(t, p.result.Root.Raw, nil)
	catest.LintExcept(t, p.result.Intermediate.Raw, nil)
	if got := p.result.Intermediate.CRLDistributionPoints; !slices.Equal(got,
		[]string{"http://pki.example.com/root.crl"}) {
		t.Errorf("CRL distribution points: got %v, want the root CRL URL", got)
	}
}

// TestLoadIssuerWithoutRoot proves the online CA needs nothing from the
// root directory: it is removed before loading and issuing.
func TestLoadIssuerWithoutRoot(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, nil)
	if err := os.RemoveAll(p.rootDir); err != nil {
		t.Fatal(err)
	}
	issuer, err := LoadIssuer(p.dataDir, testInterPass)
	if err != nil {
		t.Fatalf("LoadIssuer: %v", err)
	}
	p.issuer = issuer
	cert, _ := issueFor(t, p, "www.example.com")
	if err := verifyChain(t, p, cert, testNow.Add(time.Hour), "www.example.com"); err != nil {
		t.Errorf("Verify: got %v, want nil", err)
	}
}

func TestNewIntermediate(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, nil)
	dir := t.TempDir()
	certPath := filepath.Join(dir, "intermediate-2.pem")
	keyPath := filepath.Join(dir, "intermediate-2-key.pem")
	keyPass := []byte("second intermediate")
	later := testNow.Add(365 * 24 * time.Hour)
	opts := CeremonyOptions{
		IntermediateCommonName: "acmegate Intermediate CA 2",
		KeyAlgorithm:           ECDSAP384,
		PermittedDNSDomains:    []string{"example.com"},
		Now:                    later,
	}

	t.Run("wrong root passphrase", func(t *testing.T) {
		err := NewIntermediate(p.rootDir, []byte("wrong"), certPath, keyPath, keyPass, opts)
		if !errors.Is(err, ErrBadPassphrase) {
			t.Errorf("NewIntermediate: got %v, want %v", err, ErrBadPassphrase)
		}
	})
	t.Run("outlives root", func(t *testing.T) {
		long := opts
		long.Now = testNow.Add(8 * 365 * 24 * time.Hour)
		err := NewIntermediate(p.rootDir, testRootPass, certPath, keyPath, keyPass, long)
		if !errors.Is(err, ErrOutlivesIssuer) {
			t.Errorf("NewIntermediate: got %v, want %v", err, ErrOutlivesIssuer)
		}
	})

	if err := NewIntermediate(p.rootDir, testRootPass, certPath, keyPath, keyPass, opts); err != nil {
		t.Fatalf("NewIntermediate: %v", err)
	}
	cert, err := ReadCertificateFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := NewIssuer(cert, p.result.Root, mustLoadKey(t, keyPath, keyPass))
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	if bytes.Equal(issuer.KeyID(), p.issuer.KeyID()) {
		t.Errorf("key ID: got the old intermediate's, want a new one")
	}
	if got := cert.Subject.CommonName; got != "acmegate Intermediate CA 2" {
		t.Errorf("CN: got %q, want %q", got, "acmegate Intermediate CA 2")
	}
	if got, want := cert.NotBefore, later.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("notBefore: got %v, want %v", got, want)
	}
	rotated := &testPKI{issuer: issuer}
	leafAt := later.Add(time.Hour)
	leaf, _ := issueAt(t, rotated, leafAt, "www.example.com")
	if err := verifyChain(t, rotated, leaf, leafAt, "www.example.com"); err != nil {
		t.Errorf("Verify via rotated intermediate: got %v, want nil", err)
	}
	catest.LintExcept(t, cert.Raw, offlineRootExclusions())

	err = NewIntermediate(p.rootDir, testRootPass, certPath, keyPath, keyPass, opts)
	if !errors.Is(err, ErrExists) {
		t.Errorf("NewIntermediate again: got %v, want %v", err, ErrExists)
	}
}

func TestNewIntermediateWithSigner(t *testing.T) {
	t.Parallel()
	p := newTestPKI(t, nil)
	dir := t.TempDir()
	certPath := filepath.Join(dir, "intermediate-2.pem")
	key, err := GenerateKey(ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := CeremonyOptions{IntermediateSigner: key, Now: testNow.Add(time.Hour)}

	keyPath := filepath.Join(dir, "intermediate-2-key.pem")
	err = NewIntermediate(p.rootDir, testRootPass, certPath, keyPath, []byte("pass"), opts)
	if err == nil {
		t.Fatalf("NewIntermediate with a signer and a key file: got nil, want an error")
	}
	if _, err := os.Stat(certPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the refusal: got stat %v, want no certificate file", err)
	}

	if err := NewIntermediate(p.rootDir, testRootPass, certPath, "", nil, opts); err != nil {
		t.Fatalf("NewIntermediate: %v", err)
	}
	cert, err := ReadCertificateFile(certPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewIssuer(cert, p.result.Root, key); err != nil {
		t.Errorf("NewIssuer with the token key: got %v, want nil", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("got %d files in the output folder, want only the certificate", len(entries))
	}
}
