package integration

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPlainListener checks what http_listen serves to anyone who reaches
// it: the CRL, signed by the intermediate, and the health endpoints; the
// Prometheus metrics only with http_metrics: true.
func TestPlainListener(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name        string
		metrics     bool
		wantMetrics int
	}{
		{"default", false, http.StatusNotFound},
		{"http_metrics", true, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			g := startGateway(t, withConfig(fmt.Sprintf("http_listen: %s\nhttp_metrics: %v\n",
				addr, tt.metrics)))
			client := &http.Client{Timeout: 10 * time.Second}
			get := func(path string) (int, []byte) {
				t.Helper()
				return getBody(t, client, "http://"+addr+path)
			}

			inter, err := readCertificate(filepath.Join(g.DataDir, "intermediate.pem"))
			if err != nil {
				t.Fatal(err)
			}
			status, der := get("/acme/crl")
			if status != http.StatusOK {
				t.Fatalf("GET /acme/crl: got status %d: %s", status, der)
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatalf("parsing the CRL: %v", err)
			}
			if err := crl.CheckSignatureFrom(inter); err != nil {
				t.Errorf("CRL signature by the intermediate: %v", err)
			}
			for _, path := range []string{"/healthz", "/readyz"} {
				if status, body := get(path); status != http.StatusOK {
					t.Errorf("GET %s: got status %d: %s", path, status, body)
				}
			}
			status, body := get("/metrics")
			if status != tt.wantMetrics {
				t.Errorf("GET /metrics: got status %d, want %d", status, tt.wantMetrics)
			}
			if status == http.StatusOK && !strings.Contains(string(body), "acmegate_") {
				t.Errorf("GET /metrics: no acmegate_ metric in\n%.500s", body)
			}
		})
	}
}

// getBody GETs url and returns the status and up to 4 MiB of the body.
func getBody(t *testing.T, client *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatalf("reading %s: %v", url, err)
	}
	return resp.StatusCode, body
}
