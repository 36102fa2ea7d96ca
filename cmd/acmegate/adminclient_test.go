package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/admin"
	"github.com/acmegate/acmegate/store"
)

// remoteAdmin is an admin API served over TLS in-process, with the files
// the CLI needs to reach it.
type remoteAdmin struct {
	gw                     *acmetest.Gateway
	url, tokenFile, caFile string
}

func startRemoteAdmin(t *testing.T) *remoteAdmin {
	t.Helper()
	gw := acmetest.New(t, acmetest.Options{})
	cfg := defaultConfig()
	cfg.Admin.Listen = "127.0.0.1:0"
	hs, err := startAdmin(cfg, gw.Store, gw.Engine, gw.Issuer.CA(), nil,
		slog.New(slog.DiscardHandler), make(chan error, 1))
	if err != nil {
		t.Fatalf("startAdmin: %v", err)
	}
	t.Cleanup(func() { _ = hs.Close() })
	token, _, err := admin.CreateToken(context.Background(), gw.Store, rand.Reader, "cli",
		"operator")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ra := &remoteAdmin{gw: gw, url: "https://" + hs.Addr,
		tokenFile: filepath.Join(dir, "token"), caFile: filepath.Join(dir, "root.pem")}
	if err := os.WriteFile(ra.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gw.Issuer.CA().Root.Raw})
	if err := os.WriteFile(ra.caFile, root, 0o600); err != nil {
		t.Fatal(err)
	}
	return ra
}

// run runs `acmegate ARGS... --admin-url ... --admin-token-file ...
// --admin-ca ...` and returns its standard output.
func (ra *remoteAdmin) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runRoot(t, append(args, "--admin-url", ra.url, "--admin-token-file", ra.tokenFile,
		"--admin-ca", ra.caFile)...)
}

func runRoot(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestRemoteCertsList(t *testing.T) {
	t.Parallel()
	ra := startRemoteAdmin(t)
	cl := ra.gw.NewClient(t, jose.ES256)
	cl.Register(t)
	iss := cl.Issue(t, "remote-list.example")
	serial := hex.EncodeToString(iss.Cert.SerialNumber.Bytes())

	for _, format := range []string{"table", "json", "csv"} {
		out, err := ra.run(t, "certs", "list", "--name", "remote-list", "--format", format)
		if err != nil {
			t.Fatalf("certs list --format %s: %v", format, err)
		}
		if !strings.Contains(out, serial) || !strings.Contains(out, "remote-list.example") {
			t.Errorf("certs list --format %s: got %q, want serial %s", format, out, serial)
		}
	}
	out, err := ra.run(t, "certs", "list", "--name", "nothing-matches")
	if err != nil || strings.Contains(out, serial) {
		t.Errorf("filtered list: got %q, %v; want no rows", out, err)
	}
	out, err = ra.run(t, "certs", "show", serial)
	if err != nil || !strings.Contains(out, serial) || !strings.Contains(out, "BEGIN CERTIFICATE") {
		t.Errorf("certs show: got %q, %v", out, err)
	}
	// The test gateway's clock is months behind the admin API's system
	// clock, so the issued certificate counts as expired there; a row valid
	// by the system clock is what renew-early must mark.
	err = ra.gw.Store.Transact(t.Context(), func(tx *store.Tx) error {
		return tx.CreateCertificate(&store.Certificate{Serial: "0fedcba9", DER: []byte{0x30},
			Names: "remote-push.example", Profile: "default", Status: "valid",
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(23 * time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err = ra.run(t, "certs", "renew-early", "--name", "remote-push", "--reason", "test")
	if err != nil || !strings.Contains(out, "certificates marked for renewal from") ||
		!strings.HasSuffix(strings.TrimSpace(out), ": 1") {
		t.Errorf("certs renew-early: got %q, %v; want one certificate marked", out, err)
	}
	if out, err = ra.run(t, "audit", "verify"); err != nil || !strings.Contains(out, "intact") {
		t.Errorf("audit verify: got %q, %v", out, err)
	}
	if out, err = ra.run(t, "report", "--format", "json"); err != nil ||
		!strings.Contains(out, `"rows"`) {
		t.Errorf("report: got %q, %v", out, err)
	}
}

func TestRemoteEAB(t *testing.T) {
	t.Parallel()
	ra := startRemoteAdmin(t)
	out, err := ra.run(t, "eab", "create", "--label", "team-remote")
	if err != nil {
		t.Fatalf("eab create: %v", err)
	}
	id := regexp.MustCompile(`key id:\s+(eab_[0-9a-f]+)`).FindStringSubmatch(out)
	if id == nil || !regexp.MustCompile(`hmac key: [A-Za-z0-9_-]{40,}`).MatchString(out) {
		t.Fatalf("eab create printed %q, want a key ID and an HMAC key", out)
	}
	out, err = ra.run(t, "eab", "list")
	if err != nil || !strings.Contains(out, id[1]) || !strings.Contains(out, "team-remote") {
		t.Fatalf("eab list: got %q, %v; want %s", out, err, id[1])
	}
	if _, err := ra.run(t, "eab", "revoke", id[1]); err != nil {
		t.Fatalf("eab revoke: %v", err)
	}
	_, err = ra.run(t, "eab", "revoke", id[1])
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("second revoke: got %v, want a 404 error", err)
	}
}

func TestRemoteRefusals(t *testing.T) {
	t.Parallel()
	ra := startRemoteAdmin(t)
	bad := filepath.Join(t.TempDir(), "bad-token")
	if err := os.WriteFile(bad, []byte("agadm_not-a-real-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := runRoot(t, "certs", "list", "--admin-url", ra.url, "--admin-token-file", bad,
		"--admin-ca", ra.caFile)
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: got %v, want an error mentioning 401", err)
	}
	_, err = runRoot(t, "eab", "list", "--admin-url", ra.url, "--admin-ca", ra.caFile)
	if err == nil || !strings.Contains(err.Error(), "--admin-token-file") {
		t.Errorf("no token file: got %v, want one asking for --admin-token-file", err)
	}
	_, err = ra.run(t, "audit", "export")
	if err == nil || !strings.Contains(err.Error(), "acmegate audit export") {
		t.Errorf("audit export remotely: got %v, want a refusal naming the command", err)
	}
	_, err = ra.run(t, "policy", "show")
	if err == nil || !strings.Contains(err.Error(), "acmegate policy show") {
		t.Errorf("policy show remotely: got %v, want a refusal naming the command", err)
	}
}
