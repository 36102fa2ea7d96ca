package integration

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/go-acme/lego/v4/certificate"
	"github.com/go-acme/lego/v4/registration"
	"golang.org/x/crypto/acme"
)

// privateKeyPEM matches the first line of any PEM private key block:
// PRIVATE KEY, EC/RSA PRIVATE KEY, ENCRYPTED PRIVATE KEY.
var privateKeyPEM = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----`)

// secret is a value that must never appear in a log or a command's output,
// in any of the encodings it could be printed in.
type secret struct {
	what  string
	forms []string
}

// bytesSecret lists the usual printed forms of raw secret bytes.
func bytesSecret(what string, b []byte) secret {
	return secret{what: what, forms: []string{
		base64.RawURLEncoding.EncodeToString(b), base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b), hex.EncodeToString(b),
		strings.ToUpper(hex.EncodeToString(b)),
	}}
}

// ecKeySecret is the private scalar of key: the JWK "d" member and its
// other encodings.
func ecKeySecret(t *testing.T, what string, key *ecdsa.PrivateKey) secret {
	t.Helper()
	d, err := key.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return bytesSecret(what, d)
}

// findSecrets returns a description of every secret form, and every PEM
// private key block, found in text.
func findSecrets(text string, secrets []secret) []string {
	var found []string
	if loc := privateKeyPEM.FindStringIndex(text); loc != nil {
		found = append(found, fmt.Sprintf("a PEM private key block at byte %d: %q", loc[0],
			text[loc[0]:min(len(text), loc[1]+20)]))
	}
	for _, s := range secrets {
		for _, f := range s.forms {
			if len(f) < 12 {
				continue // too short to mean anything if found
			}
			if i := strings.Index(text, f); i >= 0 {
				found = append(found, fmt.Sprintf("the %s (as %q…) at byte %d", s.what, f[:8], i))
			}
		}
	}
	return found
}

// TestSecretsNotLogged runs full flows with debug logging (a development
// CA ceremony, EAB registration with a key from `acmegate eab create`,
// issuance, revocation by account and by certificate key, a failed
// validation and refused registrations), then scans the gateway's stdout
// and stderr and the output of the admin commands for key material and
// passphrases (ARCHITECTURE: private keys never appear in logs, errors,
// audit events or API responses).
func TestSecretsNotLogged(t *testing.T) {
	t.Parallel()
	g := startGateway(t, withConfig(requireEABConfig)) // a fresh data folder: serve runs the ceremony
	ctx, cancel := context.WithTimeout(t.Context(), 2*flowTimeout)
	defer cancel()
	eab := createEABKey(t, g, "secrets-test")

	type cliRun struct {
		args []string
		out  []byte
	}
	var runs []cliRun
	cli := func(args ...string) []byte {
		out := runGateway(t, append(args, "--data", g.DataDir)...)
		runs = append(runs, cliRun{args: args, out: out})
		return out
	}

	// Refused registrations, then the bound one.
	accountKey := newKey(t)
	client, user := newLegoClient(t, g, accountKey, challHTTP01)
	_, err := client.Registration.Register(registration.RegisterOptions{TermsOfServiceAgreed: true})
	wantProblem(t, err, "externalAccountRequired", http.StatusUnauthorized)
	wrongMAC := make([]byte, 64)
	if _, err := rand.Read(wrongMAC); err != nil {
		t.Fatal(err)
	}
	_, err = client.Registration.RegisterWithExternalAccountBinding(registration.RegisterEABOptions{
		TermsOfServiceAgreed: true, Kid: eab.kid, HmacEncoded: base64.RawURLEncoding.EncodeToString(wrongMAC)})
	wantProblem(t, err, "unauthorized", http.StatusForbidden)
	reg, err := client.Registration.RegisterWithExternalAccountBinding(registration.RegisterEABOptions{
		TermsOfServiceAgreed: true, Kid: eab.kid, HmacEncoded: eab.hmac})
	if err != nil {
		t.Fatalf("registering with the EAB key: %v", err)
	}
	user.reg = reg

	// Issuance, and revocation by the account.
	names := []string{"secrets.test.internal"}
	pointAt(g, names...)
	first := obtain(t, client, certificate.ObtainRequest{Domains: names})
	if err := client.Certificate.Revoke(first.Certificate); err != nil {
		t.Fatalf("revoking by account: %v", err)
	}

	// Issuance, and revocation signed with the certificate key.
	second := obtain(t, client, certificate.ObtainRequest{Domains: names})
	certKey := parseECKeyPEM(t, second.PrivateKey)
	leaf, err := parseOneCertificate(firstPEMBlock(t, second.Certificate))
	if err != nil {
		t.Fatal(err)
	}
	keyOnly := &acme.Client{Key: certKey, DirectoryURL: g.DirectoryURL, HTTPClient: g.HTTPClient()}
	if err := keyOnly.RevokeCert(ctx, certKey, leaf.Raw, acme.CRLReasonKeyCompromise); err != nil {
		t.Fatalf("revoking with the certificate key: %v", err)
	}

	// A validation that fails: the name does not resolve.
	_, err = client.Certificate.Obtain(certificate.ObtainRequest{Domains: []string{"unresolvable.secrets.test.internal"}})
	if err == nil {
		t.Errorf("Obtain for a name that does not resolve: got a certificate, want an error")
	}
	t.Logf("Obtain for a name that does not resolve: %v", err)

	// The operator's read commands.
	cli("eab", "list")
	cli("certs", "list", "--format", "json")
	cli("certs", "show", certSerial(leaf))
	cli("audit", "verify")
	cli("audit", "export")
	g.Stop()

	interPass, err := os.ReadFile(filepath.Join(g.DataDir, "intermediate.pass"))
	if err != nil {
		t.Fatalf("reading the intermediate passphrase: %v", err)
	}
	rootPass, err := os.ReadFile(filepath.Join(g.DataDir, "dev-root", "root.pass"))
	if err != nil {
		t.Fatalf("reading the development root passphrase: %v", err)
	}
	secrets := []secret{
		{what: "EAB HMAC key", forms: []string{eab.hmac}},
		bytesSecret("EAB HMAC key", eab.macKey(t)),
		{what: "intermediate passphrase", forms: []string{strings.TrimRight(string(interPass), "\r\n")}},
		{what: "root passphrase", forms: []string{strings.TrimRight(string(rootPass), "\r\n")}},
		ecKeySecret(t, "account private key", accountKey),
		ecKeySecret(t, "certificate private key", certKey),
		ecKeySecret(t, "first certificate's private key", parseECKeyPEM(t, first.PrivateKey)),
	}

	// The scanner finds what it looks for: the one output meant to show a
	// secret, eab create's, holds its HMAC key in a form bytesSecret lists.
	control := eabCreateOutput(t, g)
	if len(findSecrets(control.out, []secret{bytesSecret("control HMAC key", control.mac)})) == 0 {
		t.Fatalf("the scanner does not find the HMAC key in %q; the scan would prove nothing", control.out)
	}

	output := g.output.String()
	for _, want := range []string{"certificate issued", "route=/acme/revoke-cert status=200",
		"problem=externalAccountRequired", "problem=unauthorized"} {
		if !strings.Contains(output, want) {
			t.Errorf("the gateway output lacks %q; the flows did not run as intended", want)
		}
	}
	for _, f := range findSecrets(output, secrets) {
		t.Errorf("the gateway's stdout and stderr hold %s", f)
	}
	for _, r := range runs {
		for _, f := range findSecrets(string(r.out), secrets) {
			t.Errorf("acmegate %s printed %s", strings.Join(r.args, " "), f)
		}
	}
	t.Logf("secrets figures: scanned %d bytes of gateway output (%d debug lines) and %d admin command outputs "+
		"for %d secrets in %d encodings and PEM private key blocks", len(output),
		strings.Count(output, "level=DEBUG"), len(runs), len(secrets), countForms(secrets))
}

// eabControl is the output of one `acmegate eab create` and the key it
// printed.
type eabControl struct {
	out string
	mac []byte
}

// eabCreateOutput makes a throwaway EAB key and returns what the command
// printed, for the scanner's positive control.
func eabCreateOutput(t *testing.T, g *gateway) eabControl {
	t.Helper()
	out := string(runGateway(t, "eab", "create", "--label", "scanner-control", "--data", g.DataDir))
	for line := range strings.Lines(out) {
		if v, ok := strings.CutPrefix(line, "hmac key:"); ok {
			mac, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("eab create printed an HMAC key that is not base64url: %v", err)
			}
			return eabControl{out: out, mac: mac}
		}
	}
	t.Fatalf("acmegate eab create: got %q, want a \"hmac key:\" line", out)
	return eabControl{}
}

func countForms(secrets []secret) int {
	n := 0
	for _, s := range secrets {
		n += len(s.forms)
	}
	return n
}

// parseECKeyPEM parses the PEM private key lego returns with a
// certificate.
func parseECKeyPEM(t *testing.T, raw []byte) *ecdsa.PrivateKey {
	t.Helper()
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatalf("no PEM block in the private key lego returned")
	}
	if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("parsing the certificate private key: %v", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("certificate private key: got %T, want *ecdsa.PrivateKey", k)
	}
	return ec
}

// firstPEMBlock returns the first PEM block of a bundle, re-encoded.
func firstPEMBlock(t *testing.T, bundle []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(bundle)
	if block == nil {
		t.Fatalf("no PEM block in the certificate bundle")
	}
	var buf bytes.Buffer
	if err := pem.Encode(&buf, block); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
