package integration

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v4/certificate"
)

func TestRestartAfterKill(t *testing.T) {
	t.Parallel()
	g := startGateway(t)
	names := []string{"restart.test.internal"}
	pointAt(g, names...)
	client, user := newRegisteredLegoClient(t, g, challHTTP01)
	start := time.Now()
	first := obtain(t, client, certificate.ObtainRequest{Domains: names})
	checkLegoResource(t, g, first, start, wantCert{identifiers: names})
	rootBefore := g.Root

	g.Kill()
	g.Restart()

	if !g.Root.Equal(rootBefore) {
		t.Fatalf("root.pem changed across the restart: got %q, want %q", g.Root.Subject, rootBefore.Subject)
	}
	// A new client process with the same account key finds the account.
	again, againUser := newLegoClient(t, g, user.key, challHTTP01)
	reg, err := again.Registration.ResolveAccountByKey()
	if err != nil {
		t.Fatalf("ResolveAccountByKey after restart: %v", err)
	}
	if reg.URI != user.reg.URI {
		t.Errorf("account URL after restart: got %q, want %q", reg.URI, user.reg.URI)
	}
	againUser.reg = reg

	// The certificate issued before the crash is still served.
	got, err := again.Certificate.Get(first.CertURL, true)
	if err != nil {
		t.Fatalf("downloading the first certificate after restart: %v", err)
	}
	if !bytes.Equal(got.Certificate, first.Certificate) {
		t.Errorf("first certificate after restart: got a different download")
	}

	start = time.Now()
	second := obtain(t, again, certificate.ObtainRequest{Domains: names})
	checkLegoResource(t, g, second, start, wantCert{identifiers: names})
}

// initCA runs `acmegate init` into a new root folder and data folder and
// returns them with the intermediate passphrase file.
func initCA(t *testing.T) (rootDir, dataDir, interPassFile string) {
	t.Helper()
	dir := t.TempDir()
	rootDir = filepath.Join(dir, "root-ca")
	dataDir = filepath.Join(dir, "data")
	rootPassFile := filepath.Join(dir, "root.pass")
	interPassFile = filepath.Join(dir, "intermediate.pass")
	writeFile(t, rootPassFile, "root passphrase for the integration test\n")
	writeFile(t, interPassFile, "intermediate passphrase for the integration test\n")
	out := runGateway(t, "init", "--root-dir", rootDir, "--data", dataDir,
		"--root-passphrase-file", rootPassFile, "--intermediate-passphrase-file", interPassFile)
	t.Logf("acmegate init:\n%s", out)

	// The root key stays in the root folder; the data folder has only the
	// root certificate.
	if _, err := os.Stat(filepath.Join(rootDir, "root-key.pem")); err != nil {
		t.Errorf("root key in the root folder: %v", err)
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "root-key") || e.IsDir() {
			t.Errorf("data folder holds %q, want no root key material", e.Name())
		}
	}
	return rootDir, dataDir, interPassFile
}

func TestServeWithoutRoot(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare makes the intermediate passphrase available to serve and
		// returns the gateway options.
		prepare func(t *testing.T, dataDir, interPassFile string) []gatewayOption
	}{
		{
			name: "intermediate.pass in data folder",
			prepare: func(t *testing.T, dataDir, interPassFile string) []gatewayOption {
				pass, err := os.ReadFile(interPassFile)
				if err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dataDir, "intermediate.pass"), string(pass))
				return nil
			},
		},
		{
			name: "passphrase file from config",
			prepare: func(_ *testing.T, _, interPassFile string) []gatewayOption {
				return []gatewayOption{withConfig("ca:\n  intermediate_passphrase_file: " + interPassFile + "\n")}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rootDir, dataDir, interPassFile := initCA(t)
			rootPEM, err := os.ReadFile(filepath.Join(rootDir, "root.pem"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.RemoveAll(rootDir); err != nil {
				t.Fatal(err)
			}

			opts := append(tt.prepare(t, dataDir, interPassFile), withDataDir(dataDir))
			g := startGateway(t, opts...)
			if _, err := os.Stat(filepath.Join(dataDir, "dev-root")); !os.IsNotExist(err) {
				t.Errorf("serve made a development root in the init'd data folder (stat: %v)", err)
			}
			initRoot, err := parseOneCertificate(rootPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !g.Root.Equal(initRoot) {
				t.Fatalf("root.pem served: got %q, want the root made by init", g.Root.Subject)
			}

			names := []string{"offline-root.test.internal"}
			pointAt(g, names...)
			client, _ := newRegisteredLegoClient(t, g, challHTTP01)
			start := time.Now()
			res := obtain(t, client, certificate.ObtainRequest{Domains: names})
			checkLegoResource(t, g, res, start, wantCert{identifiers: names})
		})
	}
}

func TestServeWrongPassphrase(t *testing.T) {
	t.Parallel()
	_, dataDir, _ := initCA(t)
	writeFile(t, filepath.Join(dataDir, "intermediate.pass"), "wrong\n")
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatewayBinary, "serve", "--data", dataDir,
		"--listen", "127.0.0.1:"+strconv.Itoa(freePort(t)))
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("serve with a wrong passphrase still ran after %v, want it to exit with an error\n%s",
			startTimeout, out)
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() == 0 {
		t.Fatalf("serve with a wrong passphrase: got %v, want a non-zero exit\n%s", err, out)
	}
	if !bytes.Contains(bytes.ToLower(out), []byte("passphrase")) {
		t.Errorf("serve output: got %q, want it to mention the passphrase", out)
	}
}

// writeFile writes a private file or fails the test.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}
