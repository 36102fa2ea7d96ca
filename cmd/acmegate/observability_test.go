package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/acmegate/acmegate/store"
)

type fakeDB struct{ err error }

func (f fakeDB) Ping(context.Context) error { return f.err }

// fakeSigner wraps a real key; it fails with err when set, and blocks
// until release is closed when that is set.
type fakeSigner struct {
	crypto.Signer
	err     error
	release chan struct{}
	calls   atomic.Int64
}

func (s *fakeSigner) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.calls.Add(1)
	if s.release != nil {
		<-s.release
	}
	if s.err != nil {
		return nil, s.err
	}
	return s.Signer.Sign(r, digest, opts)
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	get := func(h http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec
	}
	tests := []struct {
		name   string
		db     error
		signer *fakeSigner
		status int
		body   string
	}{
		{"ready", nil, &fakeSigner{Signer: key}, http.StatusOK, ""},
		{"database down", errors.New("connection refused"), &fakeSigner{Signer: key},
			http.StatusServiceUnavailable, "database unavailable"},
		{"signer fails", nil, &fakeSigner{Signer: key, err: errors.New("pkcs11: session closed")},
			http.StatusServiceUnavailable, "signer unavailable"},
	}
	for _, tt := range tests {
		rec := get(readiness(fakeDB{tt.db}, tt.signer))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s: got %d %q, want %d with %q", tt.name, rec.Code, rec.Body, tt.status, tt.body)
		}
	}
	if rec := get(readiness(fakeDB{}, nil)); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("no signer: got %d, want 503", rec.Code)
	}

	// The signer's result is cached: a failing signer is asked once per ttl.
	failing := &fakeSigner{Signer: key, err: errors.New("hsm gone")}
	now := time.Unix(1_000_000, 0)
	p := &readinessProbe{db: fakeDB{}, signer: failing, timeout: time.Second, ttl: 5 * time.Second,
		now: func() time.Time { return now }}
	for range 3 {
		if rec := get(p); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("cached failure: got %d, want 503", rec.Code)
		}
	}
	if n := failing.calls.Load(); n != 1 {
		t.Errorf("signer calls within the ttl: got %d, want 1", n)
	}
	now = now.Add(6 * time.Second)
	failing.err = nil
	if rec := get(p); rec.Code != http.StatusOK {
		t.Errorf("after the ttl with the signer back: got %d, want 200", rec.Code)
	}

	// A hung signer fails the probe at the timeout, and a second request
	// waits on the same probe rather than starting another.
	hung := &fakeSigner{Signer: key, release: make(chan struct{})}
	p = &readinessProbe{db: fakeDB{}, signer: hung, timeout: 50 * time.Millisecond, ttl: time.Second,
		now: time.Now}
	for range 2 {
		if rec := get(p); rec.Code != http.StatusServiceUnavailable {
			t.Errorf("hung signer: got %d, want 503", rec.Code)
		}
	}
	close(hung.release)
	if n := hung.calls.Load(); n != 1 {
		t.Errorf("hung signer calls: got %d, want 1", n)
	}
}

func TestCertificateCollectorCaches(t *testing.T) {
	t.Parallel()
	var calls int
	fail := false
	now := time.Unix(1_000_000, 0)
	c := newCertificateCollector(nil, slog.New(slog.DiscardHandler))
	c.now = func() time.Time { return now }
	c.count = func(_ context.Context, _ time.Time, within time.Duration) (store.CertificateCounts, error) {
		calls++
		if fail {
			return store.CertificateCounts{}, errors.New("database down")
		}
		return store.CertificateCounts{Valid: int64(10 * calls), Expiring: int64(calls)}, nil
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	check := func(valid, expiring float64) {
		t.Helper()
		want := fmt.Sprintf(`
# HELP acmegate_certificates_expiring Valid certificates expiring within the next 24 hours.
# TYPE acmegate_certificates_expiring gauge
acmegate_certificates_expiring %v
# HELP acmegate_certificates_valid Certificates neither revoked nor expired.
# TYPE acmegate_certificates_valid gauge
acmegate_certificates_valid %v
`, expiring, valid)
		if err := testutil.GatherAndCompare(reg, strings.NewReader(want)); err != nil {
			t.Error(err)
		}
	}
	check(10, 1)
	now = now.Add(10 * time.Second)
	check(10, 1) // cached
	now = now.Add(30 * time.Second)
	check(20, 2)
	fail = true
	now = now.Add(time.Minute)
	check(20, 2) // the last counts while the database is down
	if calls != 3 {
		t.Errorf("count calls: got %d, want 3", calls)
	}
}
