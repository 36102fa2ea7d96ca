package integration

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acmegate/acmegate/acme/client"
	"github.com/acmegate/acmegate/challenges/tkauth"
)

const (
	// tokenIssuer and tokenAudience are the iss and aud of the test's
	// token issuer, as a Kubernetes cluster would set them.
	tokenIssuer   = "https://kubernetes.default.svc.cluster.local"
	tokenAudience = "acmegate"
	// tokenKID is the key ID of the issuer key in its JWKS.
	tokenKID = "k8s-1"
	// requestTimeout bounds one run of `acmegate request`.
	requestTimeout = 30 * time.Second
)

// tokenConfig is a gateway configuration offering tkauth-01 under
// svc.cluster.local to service accounts: system:serviceaccount:<ns>:<name>
// may have <name>.<ns>.svc.cluster.local. Authorizations are not reused,
// so that every order needs a fresh token.
const tokenConfig = `acme:
  disable_authz_reuse: true
challenges:
  token:
    domains: [svc.cluster.local]
    issuers:
      - name: %s
        jwks_file: %s
        audience: %s
        max_lifetime: 1h
        rules:
          - claim: sub
            pattern: '^system:serviceaccount:(?P<ns>[a-z0-9-]+):(?P<name>[a-z0-9-]+)$'
            identifiers: ['{name}.{ns}.svc.cluster.local']
`

// tokenIssuerKey is the test's token issuer: its key file and key.
type tokenIssuerKey struct {
	path string
	key  crypto.Signer
}

// newTokenIssuer writes a fresh P-256 issuer key and its JWKS, made with
// `acmegate token jwks`, and returns the key and the gateway
// configuration that trusts it.
func newTokenIssuer(t *testing.T) (tokenIssuerKey, string) {
	t.Helper()
	dir := t.TempDir()
	key := newKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding the issuer key: %v", err)
	}
	keyPath := filepath.Join(dir, "issuer-key.pem")
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatalf("writing the issuer key: %v", err)
	}
	jwks := runGateway(t, "token", "jwks", "--key", keyPath, "--kid", tokenKID)
	jwksPath := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwksPath, jwks, 0o600); err != nil {
		t.Fatalf("writing the JWKS: %v", err)
	}
	return tokenIssuerKey{path: keyPath, key: key},
		fmt.Sprintf(tokenConfig, tokenIssuer, jwksPath, tokenAudience)
}

// mint returns a token for the service account ns/name made with
// `acmegate token mint`.
func (k tokenIssuerKey) mint(t *testing.T, ns, name, audience string) string {
	t.Helper()
	out := runGateway(t, "token", "mint", "--key", k.path, "--kid", tokenKID,
		"--issuer", tokenIssuer, "--audience", audience,
		"--subject", "system:serviceaccount:"+ns+":"+name, "--ttl", "10m")
	return strings.TrimSpace(string(out))
}

// requestRun is the outcome of one `acmegate request`.
type requestRun struct {
	stdout, stderr string
	err            error // nil for exit status 0
}

// runRequest runs `acmegate request` with args to completion.
func runRequest(t *testing.T, args ...string) requestRun {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the gateway: %v", buildErr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), requestTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, gatewayBinary, append([]string{"request"}, args...)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return requestRun{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// requestFiles are the paths `acmegate request` reads and writes in one
// test folder.
type requestFiles struct {
	dir, accountKey, key, cert, chain, token string
}

func newRequestFiles(t *testing.T) requestFiles {
	t.Helper()
	dir := t.TempDir()
	return requestFiles{
		dir:        dir,
		accountKey: filepath.Join(dir, "account.pem"),
		key:        filepath.Join(dir, "key.pem"),
		cert:       filepath.Join(dir, "cert.pem"),
		chain:      filepath.Join(dir, "chain.pem"),
		token:      filepath.Join(dir, "token"),
	}
}

// args returns the flags common to every run against g, for names.
func (f requestFiles) args(g *gateway, names ...string) []string {
	args := []string{"--server", g.DirectoryURL, "--ca-bundle", filepath.Join(g.DataDir, "root.pem"),
		"--account-key", f.accountKey, "--key-out", f.key, "--cert-out", f.cert, "--chain-out", f.chain}
	for _, n := range names {
		args = append(args, "--name", n)
	}
	return args
}

// writeToken replaces the token file atomically, as a kubelet rotates a
// projected token.
func (f requestFiles) writeToken(t *testing.T, token string) {
	t.Helper()
	tmp := f.token + ".tmp"
	if err := os.WriteFile(tmp, []byte(token+"\n"), 0o600); err != nil {
		t.Fatalf("writing the token: %v", err)
	}
	if err := os.Rename(tmp, f.token); err != nil {
		t.Fatalf("replacing the token: %v", err)
	}
}

// wantIssued checks the files of a successful run: the key (mode 0600)
// matches the certificate, --cert-out is the leaf alone, --chain-out the
// leaf and the intermediate chaining to root.pem with exactly names. It
// returns the leaf.
func wantIssued(t *testing.T, g *gateway, f requestFiles, run requestRun, start time.Time,
	names ...string) *x509.Certificate {
	t.Helper()
	if run.err != nil {
		t.Fatalf("acmegate request: %v\nstdout:\n%s\nstderr:\n%s", run.err, run.stdout, run.stderr)
	}
	chainPEM, err := os.ReadFile(f.chain)
	if err != nil {
		t.Fatalf("reading --chain-out: %v", err)
	}
	leaf := checkChainPEM(t, g, chainPEM, start, wantCert{identifiers: names})
	certPEM, err := os.ReadFile(f.cert)
	if err != nil {
		t.Fatalf("reading --cert-out: %v", err)
	}
	cert, err := parseOneCertificate(certPEM)
	if err != nil || !cert.Equal(leaf) {
		t.Errorf("--cert-out: got %v, %v, want the leaf of --chain-out alone", cert, err)
	}
	wantKeyOf(t, f.key, leaf)
	if !strings.Contains(run.stdout, hex.EncodeToString(leaf.SerialNumber.Bytes())) {
		t.Errorf("stdout: got %q, want the serial %x", run.stdout, leaf.SerialNumber)
	}
	return leaf
}

// wantKeyOf checks that path is a private key of mode 0600 for cert.
func wantKeyOf(t *testing.T, path string, cert *x509.Certificate) {
	t.Helper()
	pub := readPrivateKey(t, path).Public().(interface{ Equal(crypto.PublicKey) bool })
	if !pub.Equal(cert.PublicKey) {
		t.Errorf("%s: the key does not match the certificate", path)
	}
}

// readPrivateKey reads a PKCS#8 PEM private key that must have mode 0600.
func readPrivateKey(t *testing.T, path string) crypto.Signer {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", path, err)
	}
	if mode := st.Mode().Perm(); mode != 0o600 {
		t.Errorf("%s: got mode %o, want 600", path, mode)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("%s: got no PKCS#8 PEM block", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return key.(crypto.Signer)
}

// wantRefused checks a run that must fail: a non-zero exit, the ACME
// problem type in its standard error, and no certificate written.
func wantRefused(t *testing.T, f requestFiles, run requestRun, typ string) {
	t.Helper()
	var exitErr *exec.ExitError
	if !errors.As(run.err, &exitErr) || exitErr.ExitCode() == 0 {
		t.Fatalf("acmegate request: got %v, want a non-zero exit\nstderr:\n%s", run.err, run.stderr)
	}
	if !strings.Contains(run.stderr, problemURN+typ) {
		t.Errorf("stderr: got %q, want it to name %s%s", run.stderr, problemURN, typ)
	}
	lines := strings.Split(strings.TrimSpace(run.stderr), "\n")
	t.Logf("refused: %s", lines[len(lines)-1])
	if _, err := os.Stat(f.cert); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("--cert-out: got %v, want no file", err)
	}
}

func TestRequestTokenChallenge(t *testing.T) {
	t.Parallel()
	issuer, cfg := newTokenIssuer(t)
	g := startGateway(t, withConfig(cfg))
	const api = "api.payments.svc.cluster.local"

	t.Run("issue, reuse the account, replay", func(t *testing.T) {
		t.Parallel()
		f := newRequestFiles(t)
		first := issuer.mint(t, "payments", "api", tokenAudience)
		start := time.Now()
		run := runRequest(t, append(f.args(g, api), "--token", first)...)
		leaf1 := wantIssued(t, g, f, run, start, api)
		readPrivateKey(t, f.accountKey)
		accountKey, err := os.ReadFile(f.accountKey)
		if err != nil {
			t.Fatalf("reading the account key: %v", err)
		}

		// A fresh token from a file, the same account, a new key.
		f.writeToken(t, issuer.mint(t, "payments", "api", tokenAudience))
		start = time.Now()
		run = runRequest(t, append(f.args(g, api), "--token-file", f.token)...)
		leaf2 := wantIssued(t, g, f, run, start, api)
		if again, _ := os.ReadFile(f.accountKey); !bytes.Equal(again, accountKey) {
			t.Errorf("the account key file changed on the second run; want it reused")
		}
		if leaf2.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf1.PublicKey) {
			t.Errorf("the second certificate has the key of the first; want a new key")
		}
		accounts := map[string]bool{}
		for _, c := range listCerts(t, g, api) {
			accounts[c.Account] = true
		}
		if len(accounts) != 1 {
			t.Errorf("accounts of the certificates for %s: got %v, want one", api, accounts)
		}

		// The first token again: single use.
		replay := newRequestFiles(t)
		run = runRequest(t, append(replay.args(g, api), "--token", first)...)
		wantRefused(t, replay, run, "unauthorized")
	})

	refusals := []struct {
		name  string
		token func(t *testing.T) string
		id    string
	}{
		{name: "expired token", id: api, token: func(t *testing.T) string {
			// Issued two hours ago for ten minutes: expired well beyond
			// the validator's leeway.
			tok, err := tkauth.Mint(issuer.key, tokenKID, tokenIssuer, tokenAudience,
				"system:serviceaccount:payments:api", nil, 10*time.Minute, time.Now().Add(-2*time.Hour))
			if err != nil {
				t.Fatalf("minting an expired token: %v", err)
			}
			return tok
		}},
		{name: "wrong audience", id: api, token: func(t *testing.T) string {
			return issuer.mint(t, "payments", "api", "someone-else")
		}},
		{name: "name outside the rule", id: "db.payments.svc.cluster.local",
			token: func(t *testing.T) string {
				return issuer.mint(t, "payments", "api", tokenAudience)
			}},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRequestFiles(t)
			run := runRequest(t, append(f.args(g, tt.id), "--token", tt.token(t))...)
			wantRefused(t, f, run, "unauthorized")
		})
	}

	t.Run("renew", func(t *testing.T) {
		t.Parallel()
		testRequestRenew(t, g, issuer)
	})

	t.Run("SIGTERM", func(t *testing.T) {
		t.Parallel()
		f := newRequestFiles(t)
		f.writeToken(t, issuer.mint(t, "payments", "term", tokenAudience))
		p := startRequest(t, append(f.args(g, "term.payments.svc.cluster.local"),
			"--token-file", f.token, "--renew")...)
		waitNewLeaf(t, p, f.cert, nil)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("sending SIGTERM: %v", err)
		}
		if err := p.wait(t, 10*time.Second); err != nil {
			t.Errorf("acmegate request --renew after SIGTERM: got %v, want exit status 0\nstderr:\n%s",
				err, p.stderr.String())
		}
	})
}

// testRequestRenew runs `acmegate request --renew --renew-max 2` and makes
// it renew twice by pushing the renewal window with `acmegate certs
// renew-early`, with a fresh token in the file each time. Each renewal
// must name its predecessor in replaces.
func testRequestRenew(t *testing.T, g *gateway, issuer tokenIssuerKey) {
	const name = "web.payments.svc.cluster.local"
	f := newRequestFiles(t)
	f.writeToken(t, issuer.mint(t, "payments", "web", tokenAudience))
	p := startRequest(t, append(f.args(g, name), "--token-file", f.token, "--renew",
		"--renew-max", "2", "--renew-check-max", "200ms", "--renew-spread", "1s")...)

	leaves := []*x509.Certificate{waitNewLeaf(t, p, f.cert, nil)}

	// Before the window is pushed the certificate stays: a 24-hour
	// certificate is not due, however often renewal information is read.
	time.Sleep(time.Second)
	if again := waitNewLeaf(t, p, f.cert, nil); !again.Equal(leaves[0]) {
		t.Fatalf("the certificate was renewed before its renewal window")
	}

	for range 2 {
		prev := leaves[len(leaves)-1]
		f.writeToken(t, issuer.mint(t, "payments", "web", tokenAudience))
		runGateway(t, "certs", "renew-early", "--name", "web.payments", "--reason", "test",
			"--data", g.DataDir)
		leaves = append(leaves, waitNewLeaf(t, p, f.cert, prev))
	}
	if err := p.wait(t, 15*time.Second); err != nil {
		t.Errorf("acmegate request --renew-max 2: got %v, want exit status 0 after two renewals"+
			"\nstderr:\n%s", err, p.stderr.String())
	}

	if got := len(listCerts(t, g, "web.payments")); got != 3 {
		t.Errorf("certificates for %s in the inventory: got %d, want 3", name, got)
	}
	for i := 1; i < len(leaves); i++ {
		want, err := client.CertificateID(leaves[i-1])
		if err != nil {
			t.Fatalf("CertificateID: %v", err)
		}
		show := runGateway(t, "certs", "show", hex.EncodeToString(leaves[i].SerialNumber.Bytes()),
			"--data", g.DataDir)
		if !strings.Contains(string(show), "replaces:    "+want+"\n") {
			t.Errorf("certificate %d: got\n%s\nwant it to replace %s", i+1, show, want)
		}
	}
}

// listedCert is one row of `acmegate certs list --format json`.
type listedCert struct {
	Serial  string `json:"serial"`
	Names   string `json:"names"`
	Account string `json:"account"`
	Status  string `json:"status"`
}

// listCerts lists the certificates whose names contain name.
func listCerts(t *testing.T, g *gateway, name string) []listedCert {
	t.Helper()
	out := runGateway(t, "certs", "list", "--name", name, "--format", "json", "--data", g.DataDir)
	var rows []listedCert
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("certs list --format json: %v\n%s", err, out)
	}
	return rows
}

// requestProcess is a running `acmegate request --renew`.
type requestProcess struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	done   chan struct{}
	err    error // valid once done is closed
}

// startRequest starts `acmegate request` with args and kills it when the
// test ends.
func startRequest(t *testing.T, args ...string) *requestProcess {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the gateway: %v", buildErr)
	}
	p := &requestProcess{stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(gatewayBinary, append([]string{"request"}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting acmegate request: %v", err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("acmegate request output:\n%s", p.stderr.String())
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *requestProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to d for the process to exit and returns its result.
func (p *requestProcess) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(d):
		return fmt.Errorf("still running after %v", d)
	}
}

// waitNewLeaf waits until path holds a certificate other than prev (any
// certificate when prev is nil) and returns it. It fails the test when
// the process exits first or after requestTimeout.
func waitNewLeaf(
	t *testing.T,
	p *requestProcess,
	path string,
	prev *x509.Certificate,
) *x509.Certificate {
	t.Helper()
	deadline := time.Now().Add(requestTimeout)
	for time.Now().Before(deadline) {
		// Whether the process has ended is read before the file, so that a
		// certificate written just before the exit is still seen.
		exited := p.exited()
		if raw, err := os.ReadFile(path); err == nil {
			cert, err := parseOneCertificate(raw)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if prev == nil || !cert.Equal(prev) {
				return cert
			}
		}
		if exited {
			t.Fatalf("acmegate request exited (%v) before writing a new certificate", p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no new certificate in %s within %v", path, requestTimeout)
	return nil
}

func TestRequestHTTPAndDNS(t *testing.T) {
	t.Parallel()
	httpPort := freePort(t)
	g := startGateway(t, withChallengePorts(httpPort, 0))

	t.Run("http-01", func(t *testing.T) {
		t.Parallel()
		names := []string{"web.request.test.internal", "127.0.0.1"}
		pointAt(g, names...)
		f := newRequestFiles(t)
		start := time.Now()
		run := runRequest(t, append(f.args(g, names...), "--challenge", "http-01",
			"--http-port", strconv.Itoa(httpPort), "--key-type", "rsa-3072")...)
		leaf := wantIssued(t, g, f, run, start, names...)
		if leaf.PublicKeyAlgorithm != x509.RSA {
			t.Errorf("--key-type rsa-3072: got a %v key", leaf.PublicKeyAlgorithm)
		}
	})

	t.Run("dns-01 hook", func(t *testing.T) {
		t.Parallel()
		const name = "*.hook.request.test.internal"
		f := newRequestFiles(t)
		// The hook hands the record to the test through files and waits
		// until the test has published it in the gateway's DNS server.
		hook := fmt.Sprintf(`set -e
cd %q
echo "$ACMEGATE_ACTION $ACMEGATE_DOMAIN" >> hook.log
[ "$ACMEGATE_ACTION" = present ] || exit 0
printf '%%s %%s' "$ACMEGATE_TXT_NAME" "$ACMEGATE_TXT_VALUE" > record.tmp
mv record.tmp record
i=0
while [ ! -f published ]; do i=$((i+1)); [ $i -lt 400 ] || exit 1; sleep 0.05; done
rm published`, f.dir)
		go publishHookRecords(t.Context(), t, g, f.dir)
		start := time.Now()
		run := runRequest(t, append(f.args(g, name), "--challenge", "dns-01", "--dns-hook", hook)...)
		wantIssued(t, g, f, run, start, name)
		log, err := os.ReadFile(filepath.Join(f.dir, "hook.log"))
		want := "present hook.request.test.internal\ncleanup hook.request.test.internal\n"
		if err != nil || string(log) != want {
			t.Errorf("hook calls: got %q, %v, want %q", log, err, want)
		}
	})

	t.Run("dns-01 without a hook", func(t *testing.T) {
		t.Parallel()
		f := newRequestFiles(t)
		run := runRequest(t, append(f.args(g, "x.request.test.internal"), "--challenge", "dns-01")...)
		if run.err == nil || !strings.Contains(run.stderr, "--dns-hook") {
			t.Errorf("got %v and stderr %q, want a failure naming --dns-hook", run.err, run.stderr)
		}
	})
}

// publishHookRecords serves the dns-01 hook of one run: each record the
// hook writes to dir/record is published in g's DNS server, then
// acknowledged with dir/published. It stops when ctx ends.
func publishHookRecords(ctx context.Context, t *testing.T, g *gateway, dir string) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
		raw, err := os.ReadFile(filepath.Join(dir, "record"))
		if err != nil {
			continue
		}
		name, value, ok := strings.Cut(string(raw), " ")
		if !ok {
			t.Errorf("dns hook record: got %q, want \"NAME VALUE\"", raw)
			return
		}
		g.DNS.SetTXT(name, value)
		if err := os.Remove(filepath.Join(dir, "record")); err != nil {
			t.Errorf("removing the hook record: %v", err)
			return
		}
		if err := os.WriteFile(filepath.Join(dir, "published"), nil, 0o600); err != nil {
			t.Errorf("acknowledging the hook record: %v", err)
			return
		}
	}
}
