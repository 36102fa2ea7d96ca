package pkcs11

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ThalesGroup/crypto11"

	"github.com/acmegate/acmegate/ca"
)

// Token parameters of every test token.
const (
	testTokenLabel = "acmegate-test"
	testPIN        = "1234"
	testSOPIN      = "5678"
	testKeyLabel   = "acmegate-intermediate"
)

// skipNoSoftHSM is the message of tests skipped for lack of SoftHSM2.
const skipNoSoftHSM = "softhsm2 not installed: apt-get install softhsm2"

// softHSMModuleCandidates are the usual places of the SoftHSM2 module.
var softHSMModuleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/opt/homebrew/lib/softhsm/libsofthsm2.so",
}

// findSoftHSMModule returns the path of libsofthsm2.so, or "" when it is
// not installed. Besides the usual places it asks dpkg.
func findSoftHSMModule() string {
	for _, path := range softHSMModuleCandidates {
		if _, err := os.Stat(path); err == nil {
			return path
		}
	}
	out, err := exec.Command("dpkg", "-L", "softhsm2", "libsofthsm2").Output()
	if len(out) == 0 && err != nil {
		return ""
	}
	lines := bufio.NewScanner(bytes.NewReader(out))
	for lines.Scan() {
		if path := lines.Text(); strings.HasSuffix(path, "/libsofthsm2.so") {
			return path
		}
	}
	return ""
}

// newSoftHSM initializes an empty SoftHSM2 token in a temporary directory,
// points this test process at it through SOFTHSM2_CONF, and returns a
// [Config] for it whose PIN file holds the right PIN. It skips the test
// when SoftHSM2 is not installed.
//
// Because it sets an environment variable, tests calling it cannot run in
// parallel with other tests; their subtests can.
func newSoftHSM(t *testing.T) Config {
	t.Helper()
	module := findSoftHSMModule()
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		t.Skip(skipNoSoftHSM)
	}

	dir := t.TempDir()
	tokenDir := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokenDir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	confText := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\n"+
		"log.level = ERROR\nslots.removable = false\n", tokenDir)
	if err := os.WriteFile(conf, []byte(confText), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)

	out, err := exec.Command(util, "--init-token", "--free", "--label", testTokenLabel,
		"--pin", testPIN, "--so-pin", testSOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return Config{
		Module:     module,
		TokenLabel: testTokenLabel,
		PINFile:    writePINFile(t, testPIN+"\n"),
		KeyLabel:   testKeyLabel,
	}
}

// writePINFile writes content to a new file and returns its path.
func writePINFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openToken opens cfg and closes the token when the test ends.
func openToken(t *testing.T, cfg Config) *Token {
	t.Helper()
	tok, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := tok.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tok
}

// generateKey calls [Token.GenerateKey] and fails the test on error.
func generateKey(t *testing.T, tok *Token, label string, alg ca.KeyAlgorithm) *Signer {
	t.Helper()
	key, err := tok.GenerateKey(label, alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q, %q): %v", label, alg, err)
	}
	s, ok := key.(*Signer)
	if !ok {
		t.Fatalf("GenerateKey returned %T, want *Signer", key)
	}
	return s
}

// rawKey creates a key pair with crypto11 directly, bypassing the checks
// of [Token.GenerateKey], with the private attributes of keyTemplates
// changed by override. curve selects ECDSA; a nil curve means RSA of
// rsaBits.
func rawKey(
	t *testing.T,
	tok *Token,
	label string,
	curve elliptic.Curve,
	rsaBits int,
	override map[crypto11.AttributeType]bool,
) crypto.Signer {
	t.Helper()
	public, private, err := keyTemplates([]byte(rand.Text()), label)
	if err != nil {
		t.Fatal(err)
	}
	if err := setAll(private, override); err != nil {
		t.Fatal(err)
	}
	var key crypto.Signer
	if curve != nil {
		key, err = tok.ctx.GenerateECDSAKeyPairWithAttributes(public, private, curve)
	} else {
		key, err = tok.ctx.GenerateRSAKeyPairWithAttributes(public, private, rsaBits)
	}
	if err != nil {
		t.Fatalf("generating raw key %q: %v", label, err)
	}
	return key
}
