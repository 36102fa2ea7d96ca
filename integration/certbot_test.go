package integration

import (
	"context"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// certbotTimeout bounds one certbot run; a run takes a few seconds.
const certbotTimeout = 90 * time.Second

// certbot runs the certbot command against one gateway with its own
// configuration, work and log folders. Its standalone http-01 server
// listens on 127.0.0.1:port, the port the gateway validates against.
type certbot struct {
	t    *testing.T
	g    *gateway
	dir  string
	port int
}

// newCertbot returns a certbot for g with fresh folders whose standalone
// server listens on port.
func newCertbot(t *testing.T, g *gateway, port int) *certbot {
	t.Helper()
	return &certbot{t: t, g: g, dir: t.TempDir(), port: port}
}

// skipWithoutCertbot skips the test when certbot is not on PATH. Call it
// before starting a gateway, so a skipped test costs nothing.
func skipWithoutCertbot(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("certbot"); err != nil {
		t.Skip("certbot not installed: apt-get install certbot")
	}
}

// configDir is certbot's --config-dir: accounts, live/ and renewal/.
func (c *certbot) configDir() string { return filepath.Join(c.dir, "config") }

// live returns the path of a file of the live/<name> folder.
func (c *certbot) live(name, file string) string {
	return filepath.Join(c.configDir(), "live", name, file)
}

// run runs certbot with the subcommand and arguments, adding the folders,
// the server and --non-interactive, trusting only root.pem. It fails the
// test with certbot's output and log when certbot fails.
func (c *certbot) run(args ...string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), certbotTimeout)
	defer cancel()
	logsDir := filepath.Join(c.dir, "logs")
	args = append(args,
		"--config-dir", c.configDir(),
		"--work-dir", filepath.Join(c.dir, "work"),
		"--logs-dir", logsDir,
		"--server", c.g.DirectoryURL,
		"--non-interactive",
	)
	cmd := exec.CommandContext(ctx, "certbot", args...)
	cmd.Env = append(os.Environ(),
		"REQUESTS_CA_BUNDLE="+filepath.Join(c.g.DataDir, "root.pem"),
		"XDG_CONFIG_HOME="+filepath.Join(c.dir, "xdg"), // no user cli.ini
		"NO_PROXY=127.0.0.1",
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	c.t.Logf("certbot %s took %v", args[0], time.Since(start).Round(time.Millisecond))
	if err != nil {
		logText, _ := os.ReadFile(filepath.Join(logsDir, "letsencrypt.log"))
		if len(logText) > 16<<10 {
			logText = logText[len(logText)-16<<10:]
		}
		c.t.Fatalf("certbot %s: %v\n%s\nend of letsencrypt.log:\n%s",
			strings.Join(args, " "), err, out, logText)
	}
	return string(out)
}

// certonly obtains a certificate for names with the standalone http-01
// server, registering an account first when there is none, with the extra
// arguments (such as an external account binding).
func (c *certbot) certonly(names []string, extra ...string) {
	c.t.Helper()
	args := []string{"certonly", "--standalone",
		"--http-01-port", strconv.Itoa(c.port), "--http-01-address", "127.0.0.1",
		"--agree-tos", "--register-unsafely-without-email"}
	for _, n := range names {
		args = append(args, "-d", n)
	}
	c.run(append(args, extra...)...)
}

// readLive reads a PEM file of live/<name>.
func (c *certbot) readLive(name, file string) []byte {
	c.t.Helper()
	raw, err := os.ReadFile(c.live(name, file))
	if err != nil {
		c.t.Fatalf("reading certbot's %s: %v", file, err)
	}
	return raw
}

// TestCertbot runs certbot's whole life cycle against a gateway that
// requires external account binding: registration with an EAB key while
// obtaining, forced renewal, revocation. Every run takes seconds, so there
// are only these three.
func TestCertbot(t *testing.T) {
	t.Parallel()
	skipWithoutCertbot(t)
	port := freePort(t)
	g := startGateway(t, withConfig(requireEABConfig), withChallengePorts(port, 0))
	names := []string{"certbot.test.internal", "www.certbot.test.internal"}
	pointAt(g, names...)
	key := createEABKey(t, g, "certbot")
	cb := newCertbot(t, g, port)

	start := time.Now()
	// The "=" form: a base64url key may start with "-", which certbot's
	// argument parser would take for an option.
	cb.certonly(names, "--eab-kid="+key.kid, "--eab-hmac-key="+key.hmac)
	first := checkChainPEM(t, g, cb.readLive(names[0], "fullchain.pem"), start, wantCert{identifiers: names})
	if got := eabBindings(t, g, key.kid); got != "1" {
		t.Errorf("bound accounts of %s: got %s, want 1", key.kid, got)
	}

	start = time.Now()
	cb.run("renew", "--force-renewal", "--no-random-sleep-on-renew")
	renewed := checkChainPEM(t, g, cb.readLive(names[0], "fullchain.pem"), start, wantCert{identifiers: names})
	if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Errorf("renewed serial: got %x, the same as the first certificate's", renewed.SerialNumber)
	}

	cb.run("revoke", "--cert-path", cb.live(names[0], "cert.pem"),
		"--reason", "superseded", "--no-delete-after-revoke")
	serial := hex.EncodeToString(renewed.SerialNumber.Bytes())
	out := string(runGateway(t, "certs", "show", serial, "--data", g.DataDir))
	// RFC 5280, Section 5.3.1: superseded is reason code 4.
	if !strings.Contains(out, "status:      revoked") || !strings.Contains(out, "(reason 4)") {
		t.Errorf("acmegate certs show %s: got\n%s\nwant status revoked with reason 4 (superseded)", serial, out)
	}
}
