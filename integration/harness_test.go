// Package integration starts the real acmegate binary and drives it with
// real ACME clients (lego, golang.org/x/crypto/acme) against in-process DNS,
// http-01 and tls-alpn-01 responders on loopback.
//
// TestMain builds the binary once per test run, with -race when the tests
// themselves run with -race. Each test starts its own gateway with
// [startGateway], on a free port of 127.0.0.1 and an empty data folder.
// A gateway's output is logged when its test fails, or always when the
// environment variable ACMEGATE_TEST_LOG is set.
package integration

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	legolog "github.com/go-acme/lego/v4/log"

	"github.com/acmegate/acmegate/challenges/challtest"
)

const (
	// gatewayPackage is what TestMain builds.
	gatewayPackage = "github.com/acmegate/acmegate/cmd/acmegate"
	// buildTimeout bounds the one build of the binary (with -race the
	// first build of the dependencies takes a while).
	buildTimeout = 5 * time.Minute
	// startTimeout bounds the wait for a started gateway to answer its
	// directory over TLS.
	startTimeout = 30 * time.Second
	// stopTimeout is how long a gateway gets to exit after SIGTERM before
	// it is killed.
	stopTimeout = 15 * time.Second
	// killTimeout is how long a killed gateway gets to be reaped.
	killTimeout = 5 * time.Second
	// startAttempts bounds the retries of a start whose port was taken
	// between choosing it and the gateway listening on it.
	startAttempts = 3
)

var (
	// gatewayBinary is the path of the binary built by TestMain.
	gatewayBinary string
	// buildErr is why the build failed; every test that needs the binary
	// fails with it.
	buildErr error
)

func TestMain(m *testing.M) {
	// lego follows CNAMEs of _acme-challenge names with the system
	// resolvers, which know nothing of our names; and it logs every step
	// of every client to stderr. Both are process-wide settings, made here
	// before any test goroutine runs.
	if err := os.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true"); err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	legolog.Logger = log.New(io.Discard, "", 0)

	dir, err := os.MkdirTemp("", "acmegate-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	gatewayBinary, buildErr = buildGateway(dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildGateway builds the acmegate binary into dir.
func buildGateway(dir string) (string, error) {
	// The go command sets GOROOT for the test binary it runs; prefer that
	// toolchain over whatever "go" is first on PATH.
	goTool := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(goTool); os.Getenv("GOROOT") == "" || err != nil {
		var lookErr error
		if goTool, lookErr = exec.LookPath("go"); lookErr != nil {
			return "", fmt.Errorf("finding the go command to build %s: %w", gatewayPackage, lookErr)
		}
	}
	bin := filepath.Join(dir, "acmegate")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, gatewayPackage)
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, goTool, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	fmt.Fprintf(os.Stderr, "integration: built %s with %s (race=%v) in %v\n",
		gatewayPackage, goTool, raceEnabled, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// runGateway runs the binary with args to completion (for commands other
// than serve) and returns its combined output.
func runGateway(t *testing.T, args ...string) []byte {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the gateway: %v", buildErr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, gatewayBinary, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("acmegate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// lockedBuffer collects the output of the gateway process, written by
// exec's copying goroutine and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Len returns how many bytes were written so far.
func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// gatewayConfig collects the options of [startGateway].
type gatewayConfig struct {
	dataDir    string
	configYAML string
	// http01Port and tlsalpn01Port, when not zero, replace the ports of
	// the harness responders as validation targets.
	http01Port, tlsalpn01Port int
}

// gatewayOption changes how [startGateway] starts the gateway.
type gatewayOption func(*gatewayConfig)

// withDataDir serves from dir (for example one prepared by `acmegate
// init`) instead of a fresh empty folder.
func withDataDir(dir string) gatewayOption {
	return func(c *gatewayConfig) { c.dataDir = dir }
}

// withConfig passes a configuration file with the given YAML content; the
// flags of startGateway still override it.
func withConfig(yaml string) gatewayOption {
	return func(c *gatewayConfig) { c.configYAML = yaml }
}

// withChallengePorts sends http-01 and tls-alpn-01 validation to these
// ports of the names' addresses instead of the harness responders, for
// clients that run their own solvers (certbot standalone, certmagic). A
// zero port keeps the harness responder.
func withChallengePorts(http01, tlsalpn01 int) gatewayOption {
	return func(c *gatewayConfig) { c.http01Port, c.tlsalpn01Port = http01, tlsalpn01 }
}

// process is one run of the gateway binary.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has been reaped
	err  error         // the result of Wait, valid once done is closed
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// gateway is a running `acmegate serve` with its own challenge responders.
type gateway struct {
	t *testing.T

	// DataDir is the data folder: root.pem, the intermediate, the database.
	DataDir string
	// Addr is the listen address, 127.0.0.1:port.
	Addr string
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// RootPool holds root.pem, the only root clients trust.
	RootPool *x509.CertPool
	// Root is the parsed root.pem.
	Root *x509.Certificate

	// DNS is the resolver the gateway validates against; it answers
	// NXDOMAIN for every name until a test configures it.
	DNS *challtest.DNSServer
	// HTTP01 receives the gateway's http-01 requests.
	HTTP01 *challtest.HTTP01Server
	// TLSALPN receives the gateway's tls-alpn-01 handshakes.
	TLSALPN *challtest.TLSALPNServer

	args   []string
	output *lockedBuffer
	proc   *process
}

// startGateway starts the gateway on a free port of 127.0.0.1 with fresh
// challenge responders, waits until its directory answers over TLS
// trusting root.pem, and stops it when the test ends. On failure the
// gateway's output is logged.
func startGateway(t *testing.T, opts ...gatewayOption) *gateway {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the gateway: %v", buildErr)
	}
	var cfg gatewayConfig
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.dataDir == "" {
		cfg.dataDir = filepath.Join(t.TempDir(), "data")
	}
	g := &gateway{
		t:       t,
		DataDir: cfg.dataDir,
		DNS:     challtest.NewDNSServer(t),
		HTTP01:  challtest.NewHTTP01Server(t),
		TLSALPN: challtest.NewTLSALPNServer(t),
		output:  &lockedBuffer{},
	}
	http01Port, tlsalpn01Port := g.HTTP01.Port(), g.TLSALPN.Port()
	if cfg.http01Port != 0 {
		http01Port = cfg.http01Port
	}
	if cfg.tlsalpn01Port != 0 {
		tlsalpn01Port = cfg.tlsalpn01Port
	}
	g.args = []string{"serve",
		"--data", g.DataDir,
		"--http01-port", strconv.Itoa(http01Port),
		"--tlsalpn01-port", strconv.Itoa(tlsalpn01Port),
		"--dns-resolver", g.DNS.Addr(),
		"--log-level", "debug",
	}
	if cfg.configYAML != "" {
		path := filepath.Join(t.TempDir(), "acmegate.yaml")
		if err := os.WriteFile(path, []byte(cfg.configYAML), 0o600); err != nil {
			t.Fatalf("writing config: %v", err)
		}
		g.args = append(g.args, "--config", path)
	}

	t.Cleanup(func() {
		g.shutdown()
		out := g.output.String()
		if strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the gateway reported a data race; its output follows")
		}
		if t.Failed() || os.Getenv("ACMEGATE_TEST_LOG") != "" {
			t.Logf("gateway output (%s):\n%s", g.DataDir, out)
		}
	})

	var err error
	for attempt := range startAttempts {
		g.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
		if err = g.start(); err == nil {
			break
		}
		if !errors.Is(err, errPortTaken) || attempt == startAttempts-1 {
			t.Fatalf("starting the gateway: %v", err)
		}
	}
	return g
}

// freePort returns a TCP port of 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// errPortTaken reports that the gateway could not listen on its port.
var errPortTaken = errors.New("listen port already in use")

// start runs the binary on g.Addr and waits until it is ready.
func (g *gateway) start() error {
	args := append(append([]string(nil), g.args...), "--listen", g.Addr)
	cmd := exec.Command(gatewayBinary, args...)
	cmd.Stdout = g.output
	cmd.Stderr = g.output
	mark := g.output.Len()
	fmt.Fprintf(g.output, "=== acmegate %s\n", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", gatewayBinary, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	g.proc = p
	g.DirectoryURL = "https://" + g.Addr + "/acme/directory"
	if err := g.waitReady(); err != nil {
		g.kill()
		if strings.Contains(g.output.String()[mark:], "address already in use") {
			return fmt.Errorf("%w: %v", errPortTaken, err)
		}
		return err
	}
	return nil
}

// waitReady polls until root.pem exists and the directory answers 200 over
// TLS trusting it, the process exits, or startTimeout passes.
func (g *gateway) waitReady() error {
	deadline := time.NewTimer(startTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = g.probe(); last == nil {
			return nil
		}
		select {
		case <-g.proc.done:
			return fmt.Errorf("the gateway exited before it was ready: %v", g.proc.err)
		case <-deadline.C:
			return fmt.Errorf("the gateway was not ready within %v: %v", startTimeout, last)
		case <-tick.C:
		}
	}
}

// probe loads root.pem and fetches the directory once.
func (g *gateway) probe() error {
	raw, err := os.ReadFile(filepath.Join(g.DataDir, "root.pem"))
	if err != nil {
		return err
	}
	root, err := parseOneCertificate(raw)
	if err != nil {
		return fmt.Errorf("root.pem: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	resp, err := client.Get("https://" + g.Addr + "/acme/directory")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET directory: got status %d, want 200", resp.StatusCode)
	}
	// The root is set once, at the first start: a restart keeps the data
	// folder and its root, and clients running during a restart read
	// these fields.
	if g.RootPool == nil {
		g.Root, g.RootPool = root, pool
	} else if !g.Root.Equal(root) {
		return fmt.Errorf("root.pem changed across a restart")
	}
	return nil
}

// parseOneCertificate parses a PEM file that must hold exactly one
// certificate.
func parseOneCertificate(raw []byte) (*x509.Certificate, error) {
	certs, err := parsePEMCertificates(raw)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("got %d certificates, want 1", len(certs))
	}
	return certs[0], nil
}

// HTTPClient returns a client that trusts only root.pem, for ACME clients
// and plain requests to the gateway.
func (g *gateway) HTTPClient() *http.Client {
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: g.RootPool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		IdleConnTimeout:       30 * time.Second,
	}
	g.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// Stop sends SIGTERM and waits for a clean exit; it fails the test if the
// gateway exits with an error or has to be killed.
func (g *gateway) Stop() {
	g.t.Helper()
	if err := g.terminate(); err != nil {
		g.t.Error(err)
	}
}

// terminate sends SIGTERM, waits stopTimeout, then kills. It returns an
// error unless the process exited with status 0 in time.
func (g *gateway) terminate() error {
	p := g.proc
	if p == nil || p.exited() {
		return nil
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("sending SIGTERM to the gateway: %w", err)
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
		if p.err != nil {
			return fmt.Errorf("the gateway exited after SIGTERM with %v, want status 0", p.err)
		}
		return nil
	case <-timer.C:
		g.kill()
		return fmt.Errorf("the gateway did not exit within %v of SIGTERM; killed", stopTimeout)
	}
}

// Kill ends the gateway with SIGKILL, as a crash or power loss would, and
// waits until it is gone.
func (g *gateway) Kill() {
	g.t.Helper()
	if err := g.kill(); err != nil {
		g.t.Fatal(err)
	}
}

func (g *gateway) kill() error {
	p := g.proc
	if p == nil || p.exited() {
		return nil
	}
	if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("killing the gateway: %w", err)
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("the gateway was not reaped within %v of SIGKILL", killTimeout)
	}
}

// Restart stops the gateway if it still runs, then starts it again on the
// same address with the same data folder and waits until it is ready.
func (g *gateway) Restart() {
	g.t.Helper()
	g.Stop()
	var err error
	for range startAttempts {
		// The port was ours a moment ago; give a lingering socket a moment.
		if err = g.start(); !errors.Is(err, errPortTaken) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		g.t.Fatalf("restarting the gateway: %v", err)
	}
}

// shutdown is the cleanup: SIGTERM, then SIGKILL.
func (g *gateway) shutdown() {
	if err := g.terminate(); err != nil {
		g.t.Error(err)
	}
}
