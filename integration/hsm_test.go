package integration

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
)

// hsmToken is the SoftHSM2 token of the HSM test.
const (
	hsmTokenLabel = "acmegate-integration"
	hsmPIN        = "4321"
	hsmSOPIN      = "8765"
)

// softHSMModules are the usual places of the SoftHSM2 module.
var softHSMModules = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// hsm is an initialized SoftHSM2 token in a temporary folder.
type hsm struct {
	module, pinFile string
}

// yaml returns the pkcs11 section for the key labelled keyLabel, indented
// by indent spaces.
func (h hsm) yaml(indent, keyLabel string) string {
	return fmt.Sprintf("%smodule: %s\n%stoken_label: %s\n%spin_file: %s\n%skey_label: %s\n",
		indent, h.module, indent, hsmTokenLabel, indent, h.pinFile, indent, keyLabel)
}

// newSoftHSM makes an empty SoftHSM2 token in a temporary folder and points
// this process, and through the inherited environment every gateway
// process it starts, at it with SOFTHSM2_CONF. It skips the test when
// SoftHSM2 is not installed. Tests calling it cannot be parallel.
func newSoftHSM(t *testing.T) hsm {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Skip("softhsm2-util not found: apt-get install softhsm2 (.ci/run does)")
	}
	var module string
	for _, path := range softHSMModules {
		if _, err := os.Stat(path); err == nil {
			module = path
			break
		}
	}
	if module == "" {
		t.Skipf("libsofthsm2.so not found in %v: apt-get install softhsm2", softHSMModules)
	}

	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	writeFile(t, conf, "directories.tokendir = "+tokens+"\nobjectstore.backend = file\n"+
		"log.level = ERROR\nslots.removable = false\n")
	// The harness starts the gateway without setting its environment, so
	// the child inherits this variable.
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", hsmTokenLabel,
		"--pin", hsmPIN, "--so-pin", hsmSOPIN).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	pinFile := filepath.Join(dir, "pin")
	writeFile(t, pinFile, hsmPIN+"\n")
	return hsm{module: module, pinFile: pinFile}
}

// TestHSMIssuanceAndRotation runs the CA ceremony with the intermediate key
// generated in a SoftHSM2 token, serves with ca.pkcs11 and obtains a
// certificate with lego; then rotates to a second intermediate whose key
// is in the same token, and checks both chains. Before each ceremony, an
// attempt that fails after generating its key must leave the label free.
func TestHSMIssuanceAndRotation(t *testing.T) {
	token := newSoftHSM(t)
	dir := t.TempDir()
	rootDir := filepath.Join(dir, "root-ca")
	dataDir := filepath.Join(dir, "data")
	rootPassFile := filepath.Join(dir, "root.pass")
	writeFile(t, rootPassFile, "root passphrase for the HSM test\n")

	// 1. The ceremony: root key in a file, intermediate key in the token.
	// A first attempt into a data folder that already holds a root
	// certificate fails after the key was generated, and deletes it.
	occupied := filepath.Join(dir, "occupied")
	if err := os.Mkdir(occupied, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(occupied, "root.pem"), "not ours\n")
	failed, err := exec.CommandContext(t.Context(), gatewayBinary, "init",
		"--root-dir", filepath.Join(dir, "unused-root"), "--data", occupied,
		"--root-passphrase-file", rootPassFile,
		"--hsm-module", token.module, "--hsm-token", hsmTokenLabel,
		"--hsm-pin-file", token.pinFile, "--hsm-key-label", "intermediate-a").CombinedOutput()
	if err == nil {
		t.Fatalf("init into an occupied data folder succeeded:\n%s", failed)
	}
	t.Logf("init into an occupied data folder, as expected:\n%s", failed)
	out := runGateway(t, "init", "--root-dir", rootDir, "--data", dataDir,
		"--root-passphrase-file", rootPassFile,
		"--hsm-module", token.module, "--hsm-token", hsmTokenLabel,
		"--hsm-pin-file", token.pinFile, "--hsm-key-label", "intermediate-a")
	t.Logf("acmegate init:\n%s", out)
	wantNoKeyFile(t, dataDir)
	interA, err := readCertificate(filepath.Join(dataDir, "intermediate.pem"))
	if err != nil {
		t.Fatal(err)
	}

	// 2. Serve with the token key and obtain a certificate.
	g := startGateway(t, withDataDir(dataDir),
		withConfig("ca:\n  pkcs11:\n"+token.yaml("    ", "intermediate-a")))
	namesA := []string{"hsm.test.internal"}
	pointAt(g, namesA...)
	client, _ := newRegisteredLegoClient(t, g, challHTTP01)
	startA := time.Now()
	first := obtain(t, client, certificate.ObtainRequest{Domains: namesA})
	checkLegoResource(t, g, first, startA, wantCert{identifiers: namesA})
	wantIssuer(t, first.Certificate, interA)
	wantNoKeyFile(t, dataDir)

	// 3. Rotation: a second intermediate with its key in the same token.
	// A first attempt with the wrong root passphrase fails and takes its
	// new key out of the token again, so the label can be used after it.
	certB := filepath.Join(dir, "intermediate-b.pem")
	wrongPassFile := filepath.Join(dir, "wrong.pass")
	writeFile(t, wrongPassFile, "not the root passphrase\n")
	failed, err = exec.CommandContext(t.Context(), gatewayBinary, "init", "intermediate",
		"--root-dir", rootDir, "--root-passphrase-file", wrongPassFile, "--out-cert", certB,
		"--hsm-module", token.module, "--hsm-token", hsmTokenLabel,
		"--hsm-pin-file", token.pinFile, "--hsm-key-label", "intermediate-b").CombinedOutput()
	if err == nil {
		t.Fatalf("init intermediate with a wrong root passphrase succeeded:\n%s", failed)
	}
	if _, statErr := os.Stat(certB); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("a failed ceremony left %s (stat: %v)", certB, statErr)
	}
	t.Logf("init intermediate with a wrong root passphrase, as expected:\n%s", failed)
	out = runGateway(t, "init", "intermediate", "--root-dir", rootDir,
		"--root-passphrase-file", rootPassFile, "--out-cert", certB,
		"--common-name", "acmegate Intermediate CA B",
		"--hsm-module", token.module, "--hsm-token", hsmTokenLabel,
		"--hsm-pin-file", token.pinFile, "--hsm-key-label", "intermediate-b")
	t.Logf("acmegate init intermediate:\n%s", out)
	interB, err := readCertificate(certB)
	if err != nil {
		t.Fatal(err)
	}
	g.setConfig(t, "ca:\n  pkcs11:\n"+token.yaml("    ", "intermediate-a")+
		"  active: "+certB+"\n  intermediates:\n    - cert: "+certB+"\n      pkcs11:\n"+
		token.yaml("          ", "intermediate-b"))
	g.Restart()

	// 4. Both chains verify to the root: the new certificate through B,
	// the old one, downloaded again, through A.
	namesB := []string{"hsm-b.test.internal"}
	pointAt(g, namesB...)
	startB := time.Now()
	second := obtain(t, client, certificate.ObtainRequest{Domains: namesB})
	checkLegoResource(t, g, second, startB, wantCert{identifiers: namesB})
	wantIssuer(t, second.Certificate, interB)
	again, err := client.Certificate.Get(first.CertURL, true)
	if err != nil {
		t.Fatalf("downloading the first certificate after rotation: %v", err)
	}
	checkChainPEM(t, g, again.Certificate, startA, wantCert{identifiers: namesA})
	wantIssuer(t, again.Certificate, interA)
	wantNoKeyFile(t, dataDir)
}

// wantNoKeyFile fails if the data folder holds an intermediate key file:
// with an HSM the key exists only in the token.
func wantNoKeyFile(t *testing.T, dataDir string) {
	t.Helper()
	for _, name := range []string{"intermediate-key.pem", "intermediate.pass"} {
		_, err := os.Stat(filepath.Join(dataDir, name))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("data folder: got %s (stat: %v), want no such file with an HSM key", name, err)
		}
	}
}
