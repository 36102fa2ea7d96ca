package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/acmegate/acmegate/acme/client"
	"github.com/acmegate/acmegate/acme/client/solver"
)

const (
	// minRenewalCheck is the shortest wait between two renewal
	// information checks.
	minRenewalCheck = 100 * time.Millisecond
	// defaultRenewalCheck is the wait between checks when the server sends
	// no Retry-After (RFC 9773, Section 4.3 leaves it to the client).
	defaultRenewalCheck = 6 * time.Hour
	// maxRetryDelay caps the backoff after failed renewals and failed
	// renewal information checks.
	maxRetryDelay = time.Hour
)

// requestFlags are the options of `acmegate request`.
type requestFlags struct {
	server, caBundle, accountKey string
	eabKID, eabHMACKey           string
	names                        []string
	profile, challenge           string
	token, tokenFile             string
	httpPort                     int
	dnsHook                      string
	keyOut, certOut, chainOut    string
	keyType                      string
	timeout                      time.Duration

	renew       bool
	renewMax    int
	renewCheck  time.Duration
	renewSpread time.Duration
}

func requestCommand() *cobra.Command {
	var f requestFlags
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Obtain and renew a certificate over ACME with a workload token, http-01 or dns-01",
		Long: `request is an ACME client for automation. It registers (or finds) the account of
--account-key, orders a certificate for the --name values, answers one
challenge per name, and writes a new private key, the certificate and the
chain, each file replaced atomically.

Challenges:
  tkauth-01  the default with --token or --token-file: the token (a JWT from an
             issuer the gateway trusts, such as a Kubernetes service account
             token) is sent as {"tkauth": "<token>"}. Tokens are single-use.
  http-01    a built-in responder serves the key authorization on --http-port.
  dns-01     --dns-hook runs "sh -c HOOK" with ACMEGATE_ACTION (present or
             cleanup), ACMEGATE_DOMAIN, ACMEGATE_TXT_NAME and ACMEGATE_TXT_VALUE
             in its environment; on present it must return once the TXT record
             is published.

--cert-out receives the certificate alone, --chain-out the certificate
followed by its intermediates (what a TLS server sends). The account agrees
to the CA's terms of service.

With --renew the command keeps running: it asks the CA's renewal information
(RFC 9773) when to renew, renews at a random time inside the suggested window
with a new key and the "replaces" field, reading --token-file again each time,
until SIGTERM or --renew-max renewals.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := f.validate(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			r := &requester{flags: &f, log: log, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr()}
			return r.run(ctx)
		},
	}
	f.register(cmd.Flags())
	return cmd
}

func (f *requestFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.server, "server", "",
		"ACME directory URL, https://.../acme/directory (required)")
	fs.StringVar(&f.caBundle, "ca-bundle", "",
		"PEM roots to trust for the server (default: the system roots)")
	fs.StringVar(&f.accountKey, "account-key", "",
		"account key, PKCS#8 PEM; created (0600) when missing (required)")
	fs.StringVar(&f.eabKID, "eab-kid", "", "external account binding key ID")
	fs.StringVar(&f.eabHMACKey, "eab-hmac-key", "",
		"external account binding MAC key, base64url")
	fs.StringArrayVar(&f.names, "name", nil,
		"DNS name or IP address to certify (repeatable, required)")
	fs.StringVar(&f.profile, "profile", "", "certificate profile (default: the server's)")
	fs.StringVar(&f.challenge, "challenge", "",
		"tkauth-01, http-01 or dns-01 (default tkauth-01 with a token, http-01 otherwise)")
	fs.StringVar(&f.token, "token", "",
		"token for tkauth-01 (visible to other local users; prefer --token-file)")
	fs.StringVar(&f.tokenFile, "token-file", "",
		"file holding the token for tkauth-01, read again for every order")
	fs.IntVar(&f.httpPort, "http-port", 80, "port of the built-in http-01 responder")
	fs.StringVar(&f.dnsHook, "dns-hook", "",
		"shell command that publishes and removes dns-01 TXT records")
	fs.StringVar(&f.keyOut, "key-out", "",
		"where to write the private key, mode 0600 (required)")
	fs.StringVar(&f.certOut, "cert-out", "", "where to write the certificate (PEM)")
	fs.StringVar(&f.chainOut, "chain-out", "",
		"where to write the certificate and its intermediates (PEM)")
	fs.StringVar(&f.keyType, "key-type", "ecdsa-p256", "certificate key: ecdsa-p256 or rsa-3072")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "bound on obtaining one certificate")
	fs.BoolVar(&f.renew, "renew", false,
		"keep running and renew as the server's renewal information suggests")
	fs.IntVar(&f.renewMax, "renew-max", 0,
		"with --renew, exit after this many renewals (0: until SIGTERM)")
	fs.DurationVar(&f.renewCheck, "renew-check-max", 0,
		"with --renew, check renewal information at least this often, whatever its Retry-After")
	fs.DurationVar(&f.renewSpread, "renew-spread", 0,
		"with --renew, renew within this long after the window opens (0: anywhere in it)")
}

// validate checks the flags together and applies the challenge default.
func (f *requestFlags) validate() error {
	switch {
	case !strings.HasPrefix(f.server, "https://"):
		return errors.New("--server must be the https:// URL of an ACME directory")
	case f.accountKey == "":
		return errors.New("--account-key is required")
	case len(f.names) == 0:
		return errors.New("give at least one --name")
	case f.keyOut == "":
		return errors.New("--key-out is required")
	case f.certOut == "" && f.chainOut == "":
		return errors.New("give --cert-out, --chain-out or both")
	case f.token != "" && f.tokenFile != "":
		return errors.New("give --token or --token-file, not both")
	case (f.eabKID == "") != (f.eabHMACKey == ""):
		return errors.New("--eab-kid and --eab-hmac-key go together")
	case f.keyType != "ecdsa-p256" && f.keyType != "rsa-3072":
		return fmt.Errorf("--key-type %q must be ecdsa-p256 or rsa-3072", f.keyType)
	case f.timeout <= 0:
		return errors.New("--timeout must be positive")
	case !f.renew && (f.renewMax != 0 || f.renewCheck != 0 || f.renewSpread != 0):
		return errors.New("--renew-max, --renew-check-max and --renew-spread need --renew")
	case f.renewMax < 0 || f.renewCheck < 0 || f.renewSpread < 0:
		return errors.New("--renew-max, --renew-check-max and --renew-spread cannot be negative")
	}
	if f.challenge == "" {
		f.challenge = client.ChallengeHTTP01
		if f.token != "" || f.tokenFile != "" {
			f.challenge = client.ChallengeTKAuth01
		}
	}
	switch f.challenge {
	case client.ChallengeTKAuth01:
		if f.token == "" && f.tokenFile == "" {
			return errors.New("tkauth-01 needs --token or --token-file")
		}
		if f.renew && f.token != "" {
			return errors.New("--renew needs --token-file: a token is used once, renewals need fresh ones")
		}
	case client.ChallengeHTTP01:
		if f.httpPort <= 0 || f.httpPort > 65535 {
			return fmt.Errorf("--http-port %d is not a port", f.httpPort)
		}
	case client.ChallengeDNS01:
		if f.dnsHook == "" {
			return errors.New("dns-01 needs --dns-hook to publish the TXT records")
		}
	default:
		return fmt.Errorf("--challenge %q must be tkauth-01, http-01 or dns-01", f.challenge)
	}
	return nil
}

// requester runs one `acmegate request`.
type requester struct {
	flags *requestFlags
	log   *slog.Logger
	// out receives one line per certificate; errOut the output of
	// --dns-hook.
	out, errOut io.Writer
	acme        *client.Client
}

// run obtains the certificate and, with --renew, keeps renewing it.
func (r *requester) run(ctx context.Context) error {
	if err := r.connect(ctx); err != nil {
		return err
	}
	leaf, err := r.obtain(ctx, "")
	if err != nil {
		return err
	}
	if !r.flags.renew {
		return nil
	}
	return r.renewLoop(ctx, leaf)
}

// connect builds the ACME client and registers (or finds) the account.
func (r *requester) connect(ctx context.Context) error {
	f := r.flags
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caBundle != "" {
		raw, err := os.ReadFile(f.caBundle)
		if err != nil {
			return fmt.Errorf("reading --ca-bundle: %w", err)
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(raw) {
			return fmt.Errorf("--ca-bundle %s holds no PEM certificate", f.caBundle)
		}
	}
	key, err := loadOrCreateAccountKey(f.accountKey)
	if err != nil {
		return err
	}
	httpClient := &http.Client{
		Timeout:   client.DefaultHTTPTimeout,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment},
	}
	r.acme, err = client.New(f.server, key, client.Options{HTTPClient: httpClient,
		UserAgent: "acmegate-request/" + version})
	if err != nil {
		return err
	}

	req := client.AccountRequest{TermsOfServiceAgreed: true}
	if f.eabKID != "" {
		mac, err := client.DecodeMACKey(f.eabHMACKey)
		if err != nil {
			return fmt.Errorf("--eab-hmac-key: %w", err)
		}
		req.EAB = &client.ExternalAccountBinding{KeyID: f.eabKID, MACKey: mac}
	}
	acct, err := r.acme.Register(ctx, req)
	if err != nil {
		return err
	}
	r.log.Info("account ready", "account", acct.URL)
	return nil
}

// loadOrCreateAccountKey reads the PKCS#8 PEM account key at path, or makes
// a P-256 key and writes it there (mode 0600) when the file does not
// exist.
func loadOrCreateAccountKey(path string) (crypto.Signer, error) {
	key, err := loadSigningKey(path, "")
	switch {
	case err == nil:
		return key, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("--account-key: %w", err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the account key: %w", err)
	}
	keyPEM, err := encodePrivateKey(ec)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing the account key: %w", err)
	}
	return ec, nil
}

// obtain runs one order to the end and writes the files. replaces is the
// certificate ID of the certificate it renews, or empty.
func (r *requester) obtain(ctx context.Context, replaces string) (*x509.Certificate, error) {
	f := r.flags
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()

	// 1. The order.
	req := client.OrderRequest{Profile: f.profile, Replaces: replaces}
	for _, n := range f.names {
		req.Identifiers = append(req.Identifiers, client.NewIdentifier(n))
	}
	order, err := r.acme.NewOrder(ctx, req)
	if err != nil {
		return nil, err
	}

	// 2. One challenge per authorization.
	sv := r.newSolver()
	defer sv.Close()
	for _, u := range order.Authorizations {
		if err := r.authorize(ctx, sv, u); err != nil {
			return nil, err
		}
	}
	if order, err = r.acme.WaitOrder(ctx, order.URL); err != nil {
		return nil, err
	}

	// 3. A new key for every certificate, and its CSR.
	key, err := newCertificateKey(f.keyType)
	if err != nil {
		return nil, err
	}
	csr, err := newRequestCSR(key, req.Identifiers)
	if err != nil {
		return nil, err
	}

	// 4. Finalize and download.
	if order, err = r.acme.Finalize(ctx, order, csr); err != nil {
		return nil, err
	}
	chain, err := r.acme.Certificate(ctx, order.Certificate)
	if err != nil {
		return nil, err
	}
	leaf, err := r.save(key, chain)
	if err != nil {
		return nil, err
	}
	// The serial as `acmegate certs show` takes it.
	serial := hex.EncodeToString(leaf.SerialNumber.Bytes())
	r.log.Info("certificate issued", "serial", serial, "names", strings.Join(f.names, ","),
		"not_after", leaf.NotAfter.UTC(), "replaces", replaces)
	fmt.Fprintf(r.out, "issued %s for %s, valid until %s\n", serial,
		strings.Join(f.names, ","), leaf.NotAfter.UTC().Format(time.RFC3339))
	return leaf, nil
}

// authorize completes one authorization with the chosen challenge type;
// an authorization already valid (reused) needs nothing.
func (r *requester) authorize(ctx context.Context, sv challengeSolver, url string) error {
	authz, err := r.acme.Authorization(ctx, url)
	if err != nil {
		return err
	}
	id := authz.Identifier.Value
	if authz.Status == client.StatusValid {
		r.log.Info("authorization already valid", "identifier", id)
		return nil
	}
	if authz.Status != client.StatusPending {
		return fmt.Errorf("authorization for %s is %s", id, authz.Status)
	}
	ch := authz.Challenge(r.flags.challenge)
	if ch == nil {
		var offered []string
		for _, c := range authz.Challenges {
			offered = append(offered, c.Type)
		}
		return fmt.Errorf("the server offers no %s challenge for %s (offered: %s)",
			r.flags.challenge, id, strings.Join(offered, ", "))
	}

	payload, cleanup, err := sv.Present(ctx, authz, ch)
	if err != nil {
		return fmt.Errorf("preparing %s for %s: %w", ch.Type, id, err)
	}
	defer cleanup()
	if _, err := r.acme.Respond(ctx, ch.URL, payload); err != nil {
		return err
	}
	if _, err := r.acme.WaitAuthorization(ctx, url); err != nil {
		return err
	}
	r.log.Info("authorization valid", "identifier", id, "challenge", ch.Type)
	return nil
}

// newCertificateKey makes the key of one certificate.
func newCertificateKey(keyType string) (crypto.Signer, error) {
	var (
		key crypto.Signer
		err error
	)
	switch keyType {
	case "rsa-3072":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %w", keyType, err)
	}
	return key, nil
}

// newRequestCSR returns a DER CSR for the identifiers, names in the SAN
// extension only: the server's profile decides the subject.
func newRequestCSR(key crypto.Signer, ids []client.Identifier) ([]byte, error) {
	var tmpl x509.CertificateRequest
	for _, id := range ids {
		if id.Type == client.IdentifierIP {
			tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(id.Value))
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, id.Value)
		}
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("creating the CSR: %w", err)
	}
	return csr, nil
}

// save checks that the downloaded chain starts with a certificate of key
// and writes the key, then the certificate and the chain, each file
// atomically.
func (r *requester) save(key crypto.Signer, chainPEM []byte) (*x509.Certificate, error) {
	var certs [][]byte
	for rest := chainPEM; ; {
		var block *pem.Block
		if block, rest = pem.Decode(rest); block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			certs = append(certs, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}))
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("the certificate download holds no certificate")
	}
	leafBlock, _ := pem.Decode(certs[0])
	leaf, err := x509.ParseCertificate(leafBlock.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the issued certificate: %w", err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return nil, errors.New("the issued certificate is not for the key of the CSR")
	}
	keyPEM, err := encodePrivateKey(key)
	if err != nil {
		return nil, err
	}

	// The key first: a consumer that reloads when the certificate changes
	// must find the matching key already in place.
	f := r.flags
	if err := writeFileAtomic(f.keyOut, keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("writing --key-out: %w", err)
	}
	if f.chainOut != "" {
		if err := writeFileAtomic(f.chainOut, bytes.Join(certs, nil), 0o644); err != nil {
			return nil, fmt.Errorf("writing --chain-out: %w", err)
		}
	}
	if f.certOut != "" {
		if err := writeFileAtomic(f.certOut, certs[0], 0o644); err != nil {
			return nil, fmt.Errorf("writing --cert-out: %w", err)
		}
	}
	return leaf, nil
}

// encodePrivateKey returns key as PKCS#8 PEM.
func encodePrivateKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// writeFileAtomic replaces path with data: a temporary file in the same
// folder, written, synced and renamed over path, then the folder synced,
// so that readers see the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// challengeSolver makes the answer to one challenge available; package solver
// implements it.
type challengeSolver interface {
	// Present returns the payload to post and a function that withdraws
	// the answer.
	Present(
		ctx context.Context,
		authz *client.Authorization,
		ch *client.Challenge,
	) (any, func(), error)
	// Close releases what the solver holds, such as a listener.
	Close()
}

var (
	_ challengeSolver = solver.Token{}
	_ challengeSolver = (*solver.HTTP01)(nil)
	_ challengeSolver = solver.DNSHook{}
)

// newSolver returns the solver of the chosen challenge type.
func (r *requester) newSolver() challengeSolver {
	f := r.flags
	switch f.challenge {
	case client.ChallengeTKAuth01:
		return solver.Token{Value: f.token, File: f.tokenFile}
	case client.ChallengeDNS01:
		return solver.DNSHook{Command: f.dnsHook, ACME: r.acme, Output: r.errOut, Log: r.log}
	}
	return solver.NewHTTP01(net.JoinHostPort("", strconv.Itoa(f.httpPort)), r.acme, r.log)
}

// renewLoop renews the certificate when its renewal information says so,
// until ctx ends (SIGTERM) or --renew-max renewals are done. A failed
// renewal is retried with a growing delay.
func (r *requester) renewLoop(ctx context.Context, leaf *x509.Certificate) error {
	failures := 0
	for renewed := 0; r.flags.renewMax == 0 || renewed < r.flags.renewMax; {
		if err := r.waitForRenewal(ctx, leaf); err != nil {
			break
		}
		next, err := r.renew(ctx, leaf)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			failures++
			delay := retryDelay(failures)
			r.log.Warn("renewal failed", "error", err, "retry_in", delay)
			if sleepContext(ctx, delay) != nil {
				break
			}
			continue
		}
		failures, leaf = 0, next
		renewed++
	}
	if ctx.Err() != nil {
		r.log.Info("stopping", "reason", context.Cause(ctx))
	}
	return nil
}

// renew obtains the successor of leaf, naming leaf in replaces (RFC 9773,
// Section 5); when the server says leaf was already replaced, it orders
// without replaces.
func (r *requester) renew(ctx context.Context, leaf *x509.Certificate) (*x509.Certificate, error) {
	id, err := client.CertificateID(leaf)
	if err != nil {
		r.log.Warn("renewing without replaces", "error", err)
		return r.obtain(ctx, "")
	}
	next, err := r.obtain(ctx, id)
	if client.IsProblem(err, client.ProblemAlreadyReplaced) {
		r.log.Warn("certificate already replaced; ordering without replaces", "replaces", id)
		return r.obtain(ctx, "")
	}
	return next, err
}

// waitForRenewal returns when leaf is due for renewal, following RFC 9773,
// Section 4.2: pick a random time in the suggested window; renew now if it
// has passed, sleep until it if it comes before the next check, and
// otherwise check again after Retry-After. Without renewal information the
// fallback is two thirds into the validity. It returns ctx's error when ctx
// ends first.
func (r *requester) waitForRenewal(ctx context.Context, leaf *x509.Certificate) error {
	failures := 0
	for {
		now := time.Now()
		// RFC 9773, Section 4.3: no renewal information for an expired
		// certificate; renew at once.
		if !now.Before(leaf.NotAfter) {
			return nil
		}
		var at time.Time
		var recheck time.Duration
		info, err := r.acme.RenewalInfo(ctx, leaf)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			failures++
			lifetime := leaf.NotAfter.Sub(leaf.NotBefore)
			at = leaf.NotBefore.Add(lifetime * 2 / 3)
			recheck = retryDelay(failures)
			r.log.Warn("renewal information unavailable", "error", err, "fallback", at.UTC())
		default:
			failures = 0
			at = info.Window.RandomTime(r.flags.renewSpread, nil)
			if recheck = info.RetryAfter; recheck <= 0 {
				recheck = defaultRenewalCheck
			}
		}
		if r.flags.renewCheck > 0 {
			recheck = min(recheck, r.flags.renewCheck)
		}
		// Never sleep past the expiry, whatever the server suggests.
		recheck = max(min(recheck, leaf.NotAfter.Sub(now)), minRenewalCheck)

		if !at.After(now) {
			return nil
		}
		if at.Before(now.Add(recheck)) {
			return sleepContext(ctx, at.Sub(now))
		}
		if err := sleepContext(ctx, recheck); err != nil {
			return err
		}
	}
}

// retryDelay is the backoff after n consecutive failures: 10s, doubling,
// at most maxRetryDelay.
func retryDelay(n int) time.Duration {
	d := 10 * time.Second
	for i := 1; i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	return min(d, maxRetryDelay)
}

// sleepContext waits d or until ctx ends, returning ctx's error then.
func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
