package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// certmagicTimeout bounds one certmagic obtain, renewal or load.
const certmagicTimeout = time.Minute

// newCertmagic returns a certmagic config of its own cache, storing in
// storageDir, whose ACME issuer uses g's directory trusting root.pem and
// solves only the challenge type given: http-01 on 127.0.0.1:httpPort or
// tls-alpn-01 on 127.0.0.1:alpnPort, the ports g validates against.
func newCertmagic(t *testing.T, g *gateway, storageDir, challenge string, httpPort, alpnPort int) *certmagic.Config {
	t.Helper()
	var cfg *certmagic.Config
	cache := certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return cfg, nil },
		Logger:           zap.NewNop(),
	})
	t.Cleanup(cache.Stop)
	cfg = certmagic.New(cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: storageDir},
		Logger:  zap.NewNop(),
		// Our certificates name no OCSP responder.
		OCSP: certmagic.OCSPConfig{DisableStapling: true},
	})
	issuer := certmagic.NewACMEIssuer(cfg, certmagic.ACMEIssuer{
		CA: g.DirectoryURL,
		// Without an email, ManageSync prompts on stdin and sets the
		// package-wide DefaultACME.Agreed, which parallel tests race on.
		Email:                   "certmagic@test.internal",
		Agreed:                  true,
		TrustedRoots:            g.RootPool,
		ListenHost:              "127.0.0.1",
		AltHTTPPort:             httpPort,
		AltTLSALPNPort:          alpnPort,
		DisableHTTPChallenge:    challenge != challHTTP01,
		DisableTLSALPNChallenge: challenge != challTLSALPN01,
		CertObtainTimeout:       certmagicTimeout,
		Logger:                  zap.NewNop(),
	})
	cfg.Issuers = []certmagic.Issuer{issuer}
	return cfg
}

// serveCertmagic serves cfg's TLSConfig on a loopback listener, makes one
// handshake for host trusting only root.pem, and returns the chain the
// server presented.
func serveCertmagic(t *testing.T, cfg *certmagic.Config, g *gateway, host string) []*x509.Certificate {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg.TLSConfig())
	if err != nil {
		t.Fatalf("listening: %v", err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		served <- conn.(*tls.Conn).Handshake()
	}()

	dialer := &tls.Dialer{
		NetDialer: &net.Dialer{Timeout: 10 * time.Second},
		Config:    &tls.Config{RootCAs: g.RootPool, ServerName: host, MinVersion: tls.VersionTLS12},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, err := dialer.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("TLS handshake for %s: %v", host, err)
	}
	defer conn.Close()
	if err := <-served; err != nil {
		t.Fatalf("server side of the handshake: %v", err)
	}
	return conn.(*tls.Conn).ConnectionState().PeerCertificates
}

func TestCertmagic(t *testing.T) {
	t.Parallel()
	httpPort, alpnPort := freePort(t), freePort(t)
	g := startGateway(t, withChallengePorts(httpPort, alpnPort))

	tests := []struct {
		challenge string
		host      string
	}{
		{challenge: challHTTP01, host: "magic-http.test.internal"},
		{challenge: challTLSALPN01, host: "magic-alpn.test.internal"},
	}
	for _, tt := range tests {
		t.Run(tt.challenge, func(t *testing.T) {
			t.Parallel()
			want := wantCert{identifiers: []string{tt.host}}
			pointAt(g, tt.host)
			storage := t.TempDir()
			cfg := newCertmagic(t, g, storage, tt.challenge, httpPort, alpnPort)
			ctx, cancel := context.WithTimeout(t.Context(), certmagicTimeout)
			defer cancel()

			start := time.Now()
			if err := cfg.ManageSync(ctx, []string{tt.host}); err != nil {
				t.Fatalf("ManageSync(%s): %v", tt.host, err)
			}
			t.Logf("ManageSync took %v", time.Since(start).Round(time.Millisecond))
			first := checkChain(t, g, serveCertmagic(t, cfg, g, tt.host), start, want)

			start = time.Now()
			if err := cfg.RenewCertSync(ctx, tt.host, true); err != nil {
				t.Fatalf("RenewCertSync(%s, force): %v", tt.host, err)
			}
			t.Logf("RenewCertSync took %v", time.Since(start).Round(time.Millisecond))
			// RenewCertSync stores the new certificate without touching the
			// in-memory cache; a fresh instance on the same storage, as after
			// a restart, loads and serves it.
			again := newCertmagic(t, g, storage, tt.challenge, httpPort, alpnPort)
			if err := again.ManageSync(ctx, []string{tt.host}); err != nil {
				t.Fatalf("ManageSync(%s) after renewal: %v", tt.host, err)
			}
			renewed := checkChain(t, g, serveCertmagic(t, again, g, tt.host), start, want)
			if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
				t.Errorf("renewed serial: got %x, the same as the first certificate's", renewed.SerialNumber)
			}
		})
	}
}
