package solver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/client"
)

// newACME returns a client whose key computes key authorizations; it
// never contacts its directory.
func newACME(t *testing.T) *client.Client {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	c, err := client.New("https://ca.test/directory", key, client.Options{})
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

var authz = &client.Authorization{Identifier: client.Identifier{Type: "dns", Value: "a.test"}}

func TestToken(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "token")
	write := func(v string) {
		if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
			t.Fatalf("writing the token: %v", err)
		}
	}

	payload, _, err := Token{Value: "abc"}.Present(t.Context(), authz, nil)
	if got, _ := payload.(map[string]string); err != nil || got["tkauth"] != "abc" || len(got) != 1 {
		t.Errorf("Present with a value: got %v, %v, want {tkauth: abc}", payload, err)
	}

	// The file is read at each use, so a rotated token is picked up.
	for _, v := range []string{"first\n", "  second  "} {
		write(v)
		payload, _, err := Token{File: file}.Present(t.Context(), authz, nil)
		got, _ := payload.(map[string]string)
		if want := strings.TrimSpace(v); err != nil || got["tkauth"] != want {
			t.Errorf("Present with file %q: got %v, %v, want {tkauth: %s}", v, payload, err, want)
		}
	}

	write(" \n")
	tests := []struct {
		name string
		tok  Token
	}{
		{"zero", Token{}},
		{"empty file", Token{File: file}},
		{"missing file", Token{File: file + ".missing"}},
	}
	for _, tt := range tests {
		if _, _, err := tt.tok.Present(t.Context(), authz, nil); err == nil {
			t.Errorf("%s: Present: got nil error, want one", tt.name)
		}
	}
}

func TestHTTP01(t *testing.T) {
	t.Parallel()
	acme := newACME(t)
	h := NewHTTP01("127.0.0.1:0", acme, nil)
	if h.Addr() != "" {
		t.Errorf("Addr before Present: got %q, want empty", h.Addr())
	}
	payload, withdraw, err := h.Present(t.Context(), authz, &client.Challenge{Token: "tok-1"})
	if err != nil || payload != nil {
		t.Fatalf("Present: got %v, %v, want a nil payload", payload, err)
	}
	base := "http://" + h.Addr() + "/.well-known/acme-challenge/"

	get := func(token string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + token)
		if err != nil {
			t.Fatalf("GET %s: %v", token, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("tok-1"); code != http.StatusOK || body != acme.KeyAuthorization("tok-1") {
		t.Errorf("GET tok-1: got %d %q, want 200 and the key authorization", code, body)
	}
	if code, _ := get("tok-2"); code != http.StatusNotFound {
		t.Errorf("GET an unknown token: got %d, want 404", code)
	}
	withdraw()
	if code, _ := get("tok-1"); code != http.StatusNotFound {
		t.Errorf("GET a withdrawn token: got %d, want 404", code)
	}

	addr := h.Addr()
	h.Close()
	if _, err := http.Get("http://" + addr + "/"); err == nil {
		t.Errorf("GET after Close: got nil error, want a refused connection")
	}
	h.Close() // a second Close is harmless
}

func TestDNSHook(t *testing.T) {
	t.Parallel()
	acme := newACME(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "calls")
	hook := DNSHook{
		Command: `echo "$ACMEGATE_ACTION $ACMEGATE_DOMAIN $ACMEGATE_TXT_NAME $ACMEGATE_TXT_VALUE" >> ` +
			log,
		ACME: acme,
	}
	payload, withdraw, err := hook.Present(t.Context(), authz, &client.Challenge{Token: "tok"})
	if err != nil || payload != nil {
		t.Fatalf("Present: got %v, %v, want a nil payload", payload, err)
	}
	withdraw()
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("reading the hook's calls: %v", err)
	}
	value := acme.DNS01Value("tok")
	want := "present a.test _acme-challenge.a.test " + value + "\n" +
		"cleanup a.test _acme-challenge.a.test " + value + "\n"
	if string(raw) != want {
		t.Errorf("hook calls: got %q, want %q", raw, want)
	}

	failing := DNSHook{Command: "exit 3", ACME: acme}
	if _, _, err := failing.Present(t.Context(), authz, &client.Challenge{Token: "tok"}); err == nil {
		t.Errorf("Present with a failing hook: got nil error, want one")
	}
}
