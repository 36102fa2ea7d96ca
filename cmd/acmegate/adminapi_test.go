package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/admin"
)

func TestOperatorConfigRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"bad admin listen", "admin:\n  listen: nowhere\n", "admin.listen"},
		{"admin on the ACME address", "admin:\n  listen: 127.0.0.1:8443\n", "differ"},
		{"client names without listener", "admin:\n  client_names: [ops]\n", "admin.listen"},
		{"empty client name", "admin:\n  listen: 127.0.0.1:8444\n  client_names: ['']\n",
			"client_names"},
		{"webhook without scheme", "webhooks:\n  - {url: hooks.example, secret_file: s}\n",
			"webhooks[0].url"},
		{"webhook without secret", "webhooks:\n  - {url: 'https://hooks.example/'}\n",
			"webhooks[0].secret_file"},
		{"inline secret", "webhooks:\n  - {url: 'https://hooks.example/', secret: x}\n",
			"secret"},
		{"unknown event", "webhooks:\n  - {url: 'https://h.example/', secret_file: s, " +
			"events: [certificate.lost]}\n", "certificate.lost"},
		{"zero attempts", "webhook_delivery:\n  max_attempts: 0\n", "max_attempts"},
		{"zero poll interval", "webhook_delivery:\n  poll_interval: 0s\n", "poll_interval"},
		{"negative window", "webhook_delivery:\n  expiring_within: -1h\n", "expiring_within"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(path)
			if err == nil {
				err = cfg.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("got error %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
}

// runAdmin runs `acmegate admin ARGS...` on a data folder and returns its
// standard output.
func runAdmin(t *testing.T, data string, args ...string) (string, error) {
	t.Helper()
	cmd := adminCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs(append([]string{"--data", data}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestAdminTokenCommands(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	if _, err := runAdmin(t, data, "token", "create"); err == nil {
		t.Fatal("create without --label: got no error")
	}
	out, err := runAdmin(t, data, "token", "create", "--label", "ci-pipeline")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	id := regexp.MustCompile(`token id: (adm_[0-9a-f]+)`).FindStringSubmatch(out)
	token := regexp.MustCompile(`token:\s+(agadm_\S+)`).FindStringSubmatch(out)
	if id == nil || token == nil {
		t.Fatalf("create printed %q, want the token ID and the token", out)
	}

	out, err = runAdmin(t, data, "token", "list")
	if err != nil || !strings.Contains(out, id[1]) || !strings.Contains(out, "ci-pipeline") ||
		strings.Contains(out, token[1]) {
		t.Fatalf("list: got %q, %v; want the ID and label without the token", out, err)
	}
	if _, err := runAdmin(t, data, "token", "revoke", id[1]); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := runAdmin(t, data, "token", "revoke", id[1]); err == nil {
		t.Error("second revoke: got no error")
	}
	out, _ = runAdmin(t, data, "token", "list")
	if strings.Count(out, "\n") != 2 || strings.HasSuffix(strings.TrimSpace(out), "-") {
		t.Errorf("list after revoke: got %q, want the token with its revocation time", out)
	}
}

func TestStartAdmin(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	cfg := defaultConfig()
	cfg.Admin.Listen = "127.0.0.1:0"
	errc := make(chan error, 1)
	log := slog.New(slog.DiscardHandler)
	hs, err := startAdmin(cfg, gw.Store, gw.Engine, gw.Issuer.CA(), nil, log, errc)
	if err != nil {
		t.Fatalf("startAdmin: %v", err)
	}
	t.Cleanup(func() { _ = hs.Close() })
	token, _, err := admin.CreateToken(context.Background(), gw.Store, rand.Reader, "alice",
		"operator")
	if err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AddCert(gw.Issuer.CA().Root)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {token, http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodGet, "https://"+hs.Addr+"/v1/eab-keys", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET over TLS with the intermediate's certificate: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("token %t: got status %d, want %d", tc.token != "", resp.StatusCode, tc.want)
		}
	}

	cfg.Admin.Listen = ""
	if hs, err := startAdmin(cfg, gw.Store, gw.Engine, gw.Issuer.CA(), nil, log, errc); hs != nil ||
		err != nil {
		t.Errorf("admin off: got %v, %v; want nothing started", hs, err)
	}
}

func TestReadWebhookSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name, content, want string
		wantErr             bool
	}{
		{"trailing newline", "0123456789abcdefXYZ\n", "0123456789abcdefXYZ", false},
		{"too short", "short\n", "", true},
		{"missing", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if tc.content != "" {
				if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readWebhookSecret(path)
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
