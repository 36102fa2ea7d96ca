package integration

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// certbotNonceAttempts bounds the runs of one certbot command against the
// staging directory. certbot retries a refused nonce once, so a run fails
// when two nonces in a row are refused: at the default 5% rate, 0.25% of
// its twenty-odd requests, a few percent of runs. The operator's next run
// (a timer, in practice) is the client's real recovery.
const certbotNonceAttempts = 4

// TestStagingClients drives certbot and certmagic against the
// client-honesty directory, which refuses some valid nonces, reuses
// authorizations, delays validation and picks a random profile for
// orders that name none. Each client gets its own gateway, since each
// runs its own http-01 server on the one port a gateway validates against.
func TestStagingClients(t *testing.T) {
	t.Parallel()

	t.Run("certbot", func(t *testing.T) {
		t.Parallel()
		skipWithoutCertbot(t)
		port := freePort(t)
		g := startGateway(t, withConfig(stagingConfig), withChallengePorts(port, 0))
		names := []string{"stage-certbot.test.internal", "www.stage-certbot.test.internal"}
		pointAt(g, names...)
		cb := newCertbot(t, stagingView(g), port)

		start := time.Now()
		cb.runRetryingBadNonce(certbotNonceAttempts, "certonly", "--standalone",
			"--http-01-port", strconv.Itoa(port), "--http-01-address", "127.0.0.1",
			"--agree-tos", "--register-unsafely-without-email",
			"-d", names[0], "-d", names[1])
		chain := cb.readLive(names[0], "fullchain.pem")
		first := checkChainPEM(t, g, chain, start, stagingWant(t, firstCertificate(t, chain), names))

		start = time.Now()
		cb.runRetryingBadNonce(certbotNonceAttempts, "renew", "--force-renewal", "--no-random-sleep-on-renew")
		chain = cb.readLive(names[0], "fullchain.pem")
		renewed := checkChainPEM(t, g, chain, start, stagingWant(t, firstCertificate(t, chain), names))
		if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
			t.Errorf("renewed serial: got %x, the same as the first certificate's", renewed.SerialNumber)
		}
	})

	t.Run("certmagic", func(t *testing.T) {
		t.Parallel()
		httpPort := freePort(t)
		g := startGateway(t, withConfig(stagingConfig), withChallengePorts(httpPort, 0))
		host := "stage-magic.test.internal"
		pointAt(g, host)
		storage := t.TempDir()
		cfg := newCertmagic(t, stagingView(g), storage, challHTTP01, httpPort, 0)
		ctx, cancel := context.WithTimeout(t.Context(), certmagicTimeout)
		defer cancel()

		start := time.Now()
		if err := cfg.ManageSync(ctx, []string{host}); err != nil {
			t.Fatalf("ManageSync(%s): %v", host, err)
		}
		t.Logf("ManageSync took %v", time.Since(start).Round(time.Millisecond))
		// The stored chain rather than a handshake: the staging directory
		// may pick the mtls profile, whose clientAuth-only leaf a TLS
		// client rightly refuses.
		chain := certmagicStored(t, storage, host)
		checkChainPEM(t, g, chain, start, stagingWant(t, firstCertificate(t, chain), []string{host}))
	})
}

// certmagicStored reads the one chain certmagic stored for host under
// storageDir (certificates/<issuer>/<host>/<host>.crt).
func certmagicStored(t *testing.T, storageDir, host string) []byte {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(storageDir, "certificates", "*", host, host+".crt"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("certmagic's stored certificate for %s: got %q (%v), want one file", host, matches, err)
	}
	raw, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatalf("reading certmagic's certificate: %v", err)
	}
	return raw
}

// lastProblemIs reports whether the last problem document in a certbot
// log has the given ACME error type. certbot 2.1 does not always say that
// a nonce refusal stopped it: refused twice while polling, it fails with
// "AttributeError: can't set attribute", and only its log shows why.
func lastProblemIs(logText, errType string) bool {
	const marker = `"type": "` + problemURN
	i := strings.LastIndex(logText, marker)
	return i >= 0 && strings.HasPrefix(logText[i+len(marker):], errType+`"`)
}

// runRetryingBadNonce is [certbot.run] that runs certbot again, up to
// attempts times in all, while a run fails only because the server
// refused a nonce twice in a row. Any other failure fails the test.
func (c *certbot) runRetryingBadNonce(attempts int, args ...string) {
	c.t.Helper()
	logsDir := filepath.Join(c.dir, "logs")
	full := append(append([]string(nil), args...),
		"--config-dir", c.configDir(),
		"--work-dir", filepath.Join(c.dir, "work"),
		"--logs-dir", logsDir,
		"--server", c.g.DirectoryURL,
		"--non-interactive",
	)
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(c.t.Context(), certbotTimeout)
		cmd := exec.CommandContext(ctx, "certbot", full...)
		cmd.Env = append(os.Environ(),
			"REQUESTS_CA_BUNDLE="+filepath.Join(c.g.DataDir, "root.pem"),
			"XDG_CONFIG_HOME="+filepath.Join(c.dir, "xdg"),
			"NO_PROXY=127.0.0.1",
		)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		cancel()
		c.t.Logf("certbot %s (attempt %d) took %v", args[0], attempt, time.Since(start).Round(time.Millisecond))
		if err == nil {
			return
		}
		logText, _ := os.ReadFile(filepath.Join(logsDir, "letsencrypt.log"))
		if attempt < attempts && (strings.Contains(string(out), problemURN+"badNonce") ||
			lastProblemIs(string(logText), "badNonce")) {
			continue
		}
		if len(logText) > 16<<10 {
			logText = logText[len(logText)-16<<10:]
		}
		c.t.Fatalf("certbot %s (attempt %d of %d): %v\n%s\nend of letsencrypt.log:\n%s",
			strings.Join(full, " "), attempt, attempts, err, out, logText)
	}
}

func TestLastProblemIs(t *testing.T) {
	t.Parallel()
	refused := `"type": "urn:ietf:params:acme:error:badNonce",`
	other := `"type": "urn:ietf:params:acme:error:unauthorized",`
	tests := []struct {
		log  string
		want bool
	}{
		{"no problem at all", false},
		{refused, true},
		{other + "\n...\n" + refused + "\nTraceback", true},
		{refused + "\n...\n" + other, false},
	}
	for _, tc := range tests {
		if got := lastProblemIs(tc.log, "badNonce"); got != tc.want {
			t.Errorf("lastProblemIs(%q): got %v, want %v", tc.log, got, tc.want)
		}
	}
}
