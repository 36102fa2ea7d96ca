package integration

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// legoCLIVersion is the lego command the tests were written against.
	legoCLIVersion = "v4.34.0"
	// legoCLITimeout bounds one run of the lego command; a run takes a
	// second or two.
	legoCLITimeout = 90 * time.Second
	// execAckTimeout bounds how long the exec provider's script waits for
	// the test to publish or remove its TXT record.
	execAckTimeout = 20 * time.Second
)

// legoCommand returns the path of the lego command, on PATH or in
// $(go env GOPATH)/bin, and skips the test when there is none. Call it
// before starting a gateway, so a skipped test costs nothing.
func legoCommand(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("lego"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for dir := range strings.SplitSeq(strings.TrimSpace(string(out)), string(os.PathListSeparator)) {
			p := filepath.Join(dir, "bin", "lego")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	t.Skip("lego command not found: go install github.com/go-acme/lego/v4/cmd/lego@" + legoCLIVersion)
	return ""
}

// legoCLI runs the lego command against one gateway with its own --path,
// trusting only root.pem.
type legoCLI struct {
	t      *testing.T
	g      *gateway
	bin    string
	path   string
	global []string // global flags: server, path, account, domains, solver
	env    []string
}

// newLegoCLI returns a lego command for g and the domains, solving with
// the solver flags given (such as --http --http.port 127.0.0.1:port).
func newLegoCLI(t *testing.T, bin string, g *gateway, domains []string, solver ...string) *legoCLI {
	t.Helper()
	l := &legoCLI{t: t, g: g, bin: bin, path: t.TempDir()}
	l.global = []string{
		"--server", g.DirectoryURL,
		"--path", l.path,
		"--email", "lego-cli@test.internal",
		"--accept-tos",
	}
	for _, d := range domains {
		l.global = append(l.global, "--domains", d)
	}
	l.global = append(l.global, solver...)
	l.env = append(os.Environ(),
		"LEGO_CA_CERTIFICATES="+filepath.Join(g.DataDir, "root.pem"),
		"NO_PROXY=127.0.0.1",
	)
	return l
}

// exec runs lego with the global flags, then the command and its
// arguments, and returns its output and error.
func (l *legoCLI) exec(extraGlobal []string, command string, args ...string) (string, error) {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(l.t.Context(), legoCLITimeout)
	defer cancel()
	full := slices.Concat(l.global, extraGlobal, []string{command}, args)
	cmd := exec.CommandContext(ctx, l.bin, full...)
	cmd.Env = l.env
	start := time.Now()
	out, err := cmd.CombinedOutput()
	l.t.Logf("lego %s took %v", command, time.Since(start).Round(time.Millisecond))
	if os.Getenv("ACMEGATE_TEST_LOG") != "" {
		l.t.Logf("lego %s output:\n%s", command, out)
	}
	if err != nil {
		return string(out), fmt.Errorf("lego %s: %w", strings.Join(full, " "), err)
	}
	return string(out), nil
}

// run is exec that fails the test with lego's output on error.
func (l *legoCLI) run(extraGlobal []string, command string, args ...string) string {
	l.t.Helper()
	out, err := l.exec(extraGlobal, command, args...)
	if err != nil {
		l.t.Fatalf("%v\n%s", err, out)
	}
	return out
}

// bundle reads the chain lego stored for its first domain: the leaf and
// the issuer, as lego bundles them by default.
func (l *legoCLI) bundle(domain string) []byte {
	l.t.Helper()
	name := strings.ReplaceAll(domain, "*", "_")
	raw, err := os.ReadFile(filepath.Join(l.path, "certificates", name+".crt"))
	if err != nil {
		l.t.Fatalf("reading lego's certificate: %v", err)
	}
	return raw
}

// wantRevoked checks with `acmegate certs show` that leaf is revoked with
// the reason code.
func wantRevoked(t *testing.T, g *gateway, serialBytes []byte, reason int) {
	t.Helper()
	serial := hex.EncodeToString(serialBytes)
	out := string(runGateway(t, "certs", "show", serial, "--data", g.DataDir))
	wantReason := fmt.Sprintf("(reason %d)", reason)
	if !strings.Contains(out, "status:      revoked") || !strings.Contains(out, wantReason) {
		t.Errorf("acmegate certs show %s: got\n%s\nwant status revoked with %s", serial, out, wantReason)
	}
}

// execDNS is the dns-01 side of lego's exec provider: a script that lego
// runs as `script present|cleanup <fqdn> <value>`, which hands the request
// to the test through a folder and waits until the test has set or
// removed the TXT record in the gateway's DNS server.
type execDNS struct {
	dir    string
	script string

	mu     sync.Mutex
	values map[string][]string // FQDN → TXT values
}

// newExecDNS writes the script and watches its folder until the test ends.
func newExecDNS(t *testing.T, g *gateway) *execDNS {
	t.Helper()
	e := &execDNS{dir: t.TempDir(), values: make(map[string][]string)}
	e.script = filepath.Join(t.TempDir(), "dns-exec.sh")
	tries := int(execAckTimeout / (50 * time.Millisecond))
	script := fmt.Sprintf(`#!/bin/sh
set -eu
req=%q/"$1-$(printf '%%s %%s' "$2" "$3" | cksum | cut -d' ' -f1)"
printf '%%s %%s %%s\n' "$1" "$2" "$3" > "$req.tmp"
mv "$req.tmp" "$req.req"
i=0
while [ ! -e "$req.ack" ]; do
	i=$((i+1))
	[ "$i" -lt %d ] || { echo "no answer from the test for $1 $2" >&2; exit 1; }
	sleep 0.05
done
`, e.dir, tries)
	if err := os.WriteFile(e.script, []byte(script), 0o700); err != nil {
		t.Fatalf("writing the exec script: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := e.serve(g); err != nil {
				t.Errorf("exec provider request: %v", err)
				return
			}
		}
	}()
	return e
}

// serve answers every pending request of the script.
func (e *execDNS) serve(g *gateway) error {
	reqs, err := filepath.Glob(filepath.Join(e.dir, "*.req"))
	if err != nil {
		return err
	}
	for _, req := range reqs {
		raw, err := os.ReadFile(req)
		if err != nil {
			return err
		}
		f := strings.Fields(string(raw))
		if len(f) != 3 {
			return fmt.Errorf("%s: got %q, want action, FQDN and value", req, raw)
		}
		action, fqdn, value := f[0], f[1], f[2]
		e.mu.Lock()
		switch action {
		case "present":
			e.values[fqdn] = append(e.values[fqdn], value)
		case "cleanup":
			e.values[fqdn] = slices.DeleteFunc(e.values[fqdn], func(v string) bool { return v == value })
		default:
			e.mu.Unlock()
			return fmt.Errorf("%s: got action %q, want present or cleanup", req, action)
		}
		g.DNS.SetTXT(fqdn, e.values[fqdn]...)
		e.mu.Unlock()
		if err := os.Remove(req); err != nil {
			return err
		}
		if err := os.WriteFile(strings.TrimSuffix(req, ".req")+".ack", nil, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// flags returns lego's global flags for the exec provider, with the
// propagation check replaced by a short wait: the record is in place when
// the script returns, and lego's own check would ask the names'
// authoritative servers, which do not exist.
func (e *execDNS) flags(g *gateway) []string {
	return []string{"--dns", "exec",
		"--dns.resolvers", g.DNS.Addr(),
		"--dns.propagation-wait", "100ms"}
}

// env returns the exec provider's settings: the script, and the shortest
// intervals it takes (whole seconds) instead of its one-minute sequence
// interval between the wildcard's and the base name's records, which
// share one TXT name, and its two-second polling.
func (e *execDNS) env() []string {
	return []string{
		"EXEC_PATH=" + e.script,
		"EXEC_SEQUENCE_INTERVAL=1",
		"EXEC_POLLING_INTERVAL=1",
		"EXEC_PROPAGATION_TIMEOUT=10",
	}
}

// TestLegoCLI drives the lego command through each challenge type: an
// obtain for every one, and for http-01 the whole life cycle of a forced
// renewal (with ARI) and a revocation; a profile is asked for on the
// tls-alpn-01 run.
func TestLegoCLI(t *testing.T) {
	t.Parallel()
	bin := legoCommand(t)
	httpPort, tlsPort := freePort(t), freePort(t)
	g := startGateway(t, withChallengePorts(httpPort, tlsPort))

	tests := []struct {
		name    string
		domains []string
		// solver returns lego's solver flags and extra environment.
		solver  func(t *testing.T) (flags, env []string)
		profile string
		want    wantCert
		// lifecycle renews and revokes after obtaining.
		lifecycle bool
	}{
		{
			name:    challHTTP01,
			domains: []string{"lego-cli-http.test.internal", "www.lego-cli-http.test.internal"},
			solver: func(*testing.T) ([]string, []string) {
				return []string{"--http", "--http.port", "127.0.0.1:" + strconv.Itoa(httpPort)}, nil
			},
			lifecycle: true,
		},
		{
			name:    challTLSALPN01,
			domains: []string{"lego-cli-alpn.test.internal"},
			solver: func(*testing.T) ([]string, []string) {
				return []string{"--tls", "--tls.port", "127.0.0.1:" + strconv.Itoa(tlsPort)}, nil
			},
			profile: "shortlived",
			want:    wantCert{lifetime: shortLifetime},
		},
		{
			name:    challDNS01,
			domains: []string{"*.lego-cli-dns.test.internal", "lego-cli-dns.test.internal"},
			solver: func(t *testing.T) ([]string, []string) {
				e := newExecDNS(t, g)
				return e.flags(g), e.env()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pointAt(g, tt.domains...)
			want := tt.want
			want.identifiers = tt.domains
			flags, env := tt.solver(t)
			l := newLegoCLI(t, bin, g, tt.domains, flags...)
			l.env = append(l.env, env...)

			var runArgs []string
			if tt.profile != "" {
				runArgs = append(runArgs, "--profile", tt.profile)
			}
			start := time.Now()
			l.run(nil, "run", runArgs...)
			first := checkChainPEM(t, g, l.bundle(tt.domains[0]), start, want)
			if !tt.lifecycle {
				return
			}

			// The certificate lives 24 hours, so --days 30 renews it now.
			// ARI stays on (lego's default): lego asks the renewalInfo
			// endpoint first and names the old certificate in "replaces".
			start = time.Now()
			out := l.run(nil, "renew", "--days", "30", "--no-random-sleep")
			// lego logs the answer of the renewalInfo endpoint; without
			// one in the directory it warns that the server has no ARI.
			if !strings.Contains(out, "renewalInfo endpoint indicates") {
				t.Errorf("lego renew: got\n%s\nwant an answer from the renewalInfo endpoint", out)
			}
			renewed := checkChainPEM(t, g, l.bundle(tt.domains[0]), start, want)
			if renewed.SerialNumber.Cmp(first.SerialNumber) == 0 {
				t.Errorf("renewed serial: got %x, the same as the first certificate's", renewed.SerialNumber)
			}

			// RFC 5280, Section 5.3.1: superseded is reason code 4.
			l.run(nil, "revoke", "--reason", "4", "--keep")
			wantRevoked(t, g, renewed.SerialNumber.Bytes(), 4)
		})
	}
}

// TestLegoCLIEAB registers with the lego command against a gateway that
// requires external account binding: refused without a binding (the
// directory advertises the requirement), accepted
// with one, which then shows one bound account.
func TestLegoCLIEAB(t *testing.T) {
	t.Parallel()
	bin := legoCommand(t)
	port := freePort(t)
	g := startGateway(t, withConfig(requireEABConfig), withChallengePorts(port, 0))
	domains := []string{"lego-cli-eab.test.internal"}
	pointAt(g, domains...)
	solver := []string{"--http", "--http.port", "127.0.0.1:" + strconv.Itoa(port)}

	t.Run("without a binding", func(t *testing.T) {
		l := newLegoCLI(t, bin, g, domains, solver...)
		out, err := l.exec(nil, "run")
		if err == nil {
			t.Fatalf("lego run without --eab: got success, want externalAccountRequired\n%s", out)
		}
		// lego reads externalAccountRequired from the directory's meta
		// and stops before sending newAccount.
		if !strings.Contains(out, "External Account Binding") {
			t.Errorf("lego run without --eab: got\n%s\nwant a refusal naming External Account Binding", out)
		}
	})

	t.Run("with a binding", func(t *testing.T) {
		key := createEABKey(t, g, "lego-cli")
		// The "=" form: a base64url key may start with "-".
		l := newLegoCLI(t, bin, g, domains, solver...)
		start := time.Now()
		l.run([]string{"--eab", "--kid=" + key.kid, "--hmac=" + key.hmac}, "run")
		checkChainPEM(t, g, l.bundle(domains[0]), start, wantCert{identifiers: domains})
		if got := eabBindings(t, g, key.kid); got != "1" {
			t.Errorf("bound accounts of %s: got %s, want 1", key.kid, got)
		}
	})
}
