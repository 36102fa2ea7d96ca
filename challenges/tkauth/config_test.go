package tkauth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/tkauth"
)

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	hmac := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: []byte("secret"), KeyID: "h"}}}
	private := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: esKey, KeyID: "p"}}}
	encryption := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: esKey.Public(), Use: "enc"}}}
	tests := []struct {
		name     string
		edit     func(*tkauth.Options)
		wantText string
	}{
		{"no issuers", func(o *tkauth.Options) { o.Issuers = nil }, "no issuers"},
		{"no replay cache", func(o *tkauth.Options) { o.Replay = nil }, "replay cache is required"},
		{"empty name", func(o *tkauth.Options) { o.Issuers[0].Name = "" }, "empty name"},
		{"empty audience", func(o *tkauth.Options) { o.Issuers[0].Audience = "" }, "empty audience"},
		{"no keys", func(o *tkauth.Options) { o.Issuers[0].Keys = nil }, "no keys"},
		{"symmetric key", func(o *tkauth.Options) { o.Issuers[0].Keys = hmac }, "not a valid public key"},
		{"private key", func(o *tkauth.Options) { o.Issuers[0].Keys = private }, "not a valid public"},
		{"encryption key", func(o *tkauth.Options) { o.Issuers[0].Keys = encryption }, `use is "enc"`},
		{
			"HS256 allowed",
			func(o *tkauth.Options) { o.Issuers[0].Algorithms = []jose.SignatureAlgorithm{jose.HS256} },
			`algorithm "HS256" is not an asymmetric signature algorithm`,
		},
		{
			"none allowed",
			func(o *tkauth.Options) { o.Issuers[0].Algorithms = []jose.SignatureAlgorithm{"none"} },
			`algorithm "none" is not`,
		},
		{"no rules", func(o *tkauth.Options) { o.Issuers[0].Rules = nil }, "no rules"},
		{
			"duplicate issuer",
			func(o *tkauth.Options) { o.Issuers = append(o.Issuers, o.Issuers[0]) },
			"duplicate name",
		},
		{"rule without claim", func(o *tkauth.Options) { o.Issuers[0].Rules[0].Claim = "" }, "empty claim"},
		{"bad pattern", func(o *tkauth.Options) { o.Issuers[0].Rules[0].Pattern = "(" }, "rule 0: pattern"},
		{
			"unknown group",
			func(o *tkauth.Options) { o.Issuers[0].Rules[0].Identifiers = []string{"{pod}.svc"} },
			"{pod} is not a named group",
		},
		{
			"template not a host name",
			func(o *tkauth.Options) { o.Issuers[0].Rules[0].Identifiers = []string{"{name}..svc"} },
			"not a host name pattern",
		},
		{
			"wildcard inside a template",
			func(o *tkauth.Options) { o.Issuers[0].Rules[0].Identifiers = []string{"a.*.{name}.svc"} },
			"not a host name pattern",
		},
		{
			"no templates",
			func(o *tkauth.Options) { o.Issuers[0].Rules[0].Identifiers = nil },
			"no identifier templates",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tkauth.Options{Issuers: []tkauth.Issuer{testIssuer()}, Replay: &memoryReplay{}}
			tt.edit(&opts)
			_, err := tkauth.New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantText)
			}
		})
	}
}

// TestLoadJWKSFile loads an RSA key set from disk, the way a Kubernetes
// API server publishes it, and validates an RS256 token with it.
func TestLoadJWKSFile(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: key.Public(), KeyID: "rsa-1", Algorithm: string(jose.RS256), Use: "sig"},
	}}
	path := writeJSON(t, set)

	keys, err := tkauth.LoadJWKSFile(path)
	if err != nil {
		t.Fatalf("LoadJWKSFile: %v", err)
	}
	v, _ := newValidator(t, func(is *tkauth.Issuer) { is.Keys = keys })
	tok, err := tkauth.Mint(key, "rsa-1", issuerName, audience, subject, nil, time.Minute, now)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	_, err = v.Validate(testCtx(t), request(apiName, payload(tok)))
	challtest.WantError(t, err, "", "")
}

func TestLoadJWKSFileRefuses(t *testing.T) {
	t.Parallel()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		path     func(t *testing.T) string
		wantText string
	}{
		{
			name:     "missing file",
			path:     func(t *testing.T) string { return filepath.Join(t.TempDir(), "none.json") },
			wantText: "opening JWKS file",
		},
		{
			name:     "not JSON",
			path:     func(t *testing.T) string { return writeFile(t, []byte("keys: []")) },
			wantText: "parsing JWKS file",
		},
		{
			name:     "no keys",
			path:     func(t *testing.T) string { return writeFile(t, []byte(`{"keys": []}`)) },
			wantText: "no keys",
		},
		{
			name: "private key",
			path: func(t *testing.T) string {
				return writeJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: edKey, KeyID: "ed"}}})
			},
			wantText: `key 0 (kid "ed"): not a valid public key`,
		},
		{
			name: "small RSA key",
			path: func(t *testing.T) string {
				return writeJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: small.Public()}}})
			},
			wantText: "RSA key of 1024 bits",
		},
		{
			name: "too large",
			path: func(t *testing.T) string {
				return writeFile(t, []byte(`{"keys": [], "x": "`+strings.Repeat("a", 1<<20)+`"}`))
			},
			wantText: "larger than",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tkauth.LoadJWKSFile(tt.path(t))
			if err == nil || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantText)
			}
		})
	}
}

func writeJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, data)
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
