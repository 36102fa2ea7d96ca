package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/acmegate/acmegate/store"
)

// Environment variables that stand in for --admin-url and
// --admin-token-file.
const (
	envAdminURL       = "ACMEGATE_ADMIN_URL"
	envAdminTokenFile = "ACMEGATE_ADMIN_TOKEN_FILE"
)

// remoteAnnotation marks the operator commands that can work through the
// admin API; the others refuse --admin-url.
const remoteAnnotation = "acmegate/admin-api"

// remoteCapable is the annotation set of commands that work through the
// admin API when --admin-url is given.
var remoteCapable = map[string]string{remoteAnnotation: "true"}

// maxAdminResponse bounds what the client reads of an answer.
const maxAdminResponse = 64 << 20

// adminURL returns the admin API base URL from --admin-url or the
// environment; empty means the command works on the database.
func (f *storeFlags) adminURL() string {
	if f.remoteURL != "" {
		return f.remoteURL
	}
	return os.Getenv(envAdminURL)
}

// remote tells whether the command should call the admin API.
func (f *storeFlags) remote() bool { return f.adminURL() != "" }

// refuseRemote is the PersistentPreRunE of the command groups using
// storeFlags: a command without admin API support refuses --admin-url.
func (f *storeFlags) refuseRemote(cmd *cobra.Command, _ []string) error {
	if f.remote() && cmd.Annotations[remoteAnnotation] == "" {
		return fmt.Errorf("%s does not work through the admin API: drop --admin-url "+
			"(and unset %s) and run it on the gateway's host", cmd.CommandPath(), envAdminURL)
	}
	return nil
}

// adminClient calls the admin API with a bearer token.
type adminClient struct {
	base  *url.URL
	token string
	http  *http.Client
}

// client builds the admin API client from the flags: the URL, the token
// read from its file and the CA certificates trusted for the API's TLS
// certificate (default the system roots).
func (f *storeFlags) client() (*adminClient, error) {
	raw := f.adminURL()
	base, err := url.Parse(raw)
	if err != nil || base.Scheme != "https" || base.Host == "" {
		return nil, fmt.Errorf("--admin-url must be an https URL like https://host:8444, not %q", raw)
	}
	tokenFile := f.tokenFile
	if tokenFile == "" {
		tokenFile = os.Getenv(envAdminTokenFile)
	}
	if tokenFile == "" {
		return nil, fmt.Errorf("--admin-url needs --admin-token-file (or %s)", envAdminTokenFile)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("reading the admin token: %w", err)
	}
	token := strings.TrimSpace(string(b))
	if token == "" || strings.ContainsAny(token, " \t\r\n") {
		return nil, fmt.Errorf("the admin token file %s must hold one token", tokenFile)
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.caFile != "" {
		pemBytes, err := os.ReadFile(f.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --admin-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--admin-ca %s holds no PEM certificate", f.caFile)
		}
		tlsConfig.RootCAs = pool
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	return &adminClient{base: base, token: token, http: &http.Client{
		Timeout:   60 * time.Second,
		Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: http.ProxyFromEnvironment},
	}}, nil
}

// do sends a request to path (with query, and body encoded as JSON unless
// nil) and decodes a successful answer into out unless it is nil. A
// refused request becomes an error with the API's message and status.
func (c *adminClient) do(ctx context.Context, method, path string, query url.Values,
	body, out any) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAdminResponse))
	if err != nil {
		return fmt.Errorf("admin API: %s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 500 {
			msg = msg[:500] + "..."
		}
		return &adminAPIError{Method: method, Path: path, Status: resp.StatusCode, Message: msg}
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = append((*raw)[:0], data...)
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin API: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

// adminAPIError is a request the admin API refused or failed.
type adminAPIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *adminAPIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("admin API: %s %s: %d %s: %s", e.Method, e.Path, e.Status,
		http.StatusText(e.Status), msg)
}

// remoteOr adapts a command that works either through the admin API
// (remote, with --admin-url) or on the store named by the flags (local).
func remoteOr(sf *storeFlags,
	remote func(cmd *cobra.Command, args []string, c *adminClient) error,
	local func(cmd *cobra.Command, args []string, st *store.Store) error,
) func(*cobra.Command, []string) error {
	onStore := sf.runE(local)
	return func(cmd *cobra.Command, args []string) error {
		if !sf.remote() {
			return onStore(cmd, args)
		}
		c, err := sf.client()
		if err != nil {
			return err
		}
		return remote(cmd, args, c)
	}
}

// remoteCertificates lists certificates through GET /v1/certificates with
// the filters in q, as the store's rows that certs list writes.
func remoteCertificates(cmd *cobra.Command, sf *storeFlags, q url.Values) ([]store.Certificate,
	error) {
	c, err := sf.client()
	if err != nil {
		return nil, err
	}
	var res struct {
		Certificates []struct {
			Serial    string    `json:"serial"`
			Names     []string  `json:"names"`
			AccountID string    `json:"account_id"`
			OrderID   string    `json:"order_id"`
			Profile   string    `json:"profile"`
			Status    string    `json:"status"`
			NotBefore time.Time `json:"not_before"`
			NotAfter  time.Time `json:"not_after"`
			Replaces  string    `json:"replaces"`
		} `json:"certificates"`
	}
	if err := c.do(cmd.Context(), http.MethodGet, "/v1/certificates", q, nil, &res); err != nil {
		return nil, err
	}
	rows := make([]store.Certificate, 0, len(res.Certificates))
	for _, r := range res.Certificates {
		rows = append(rows, store.Certificate{Serial: r.Serial, Names: strings.Join(r.Names, ","),
			AccountID: r.AccountID, OrderID: r.OrderID, Profile: r.Profile, Status: r.Status,
			NotBefore: r.NotBefore, NotAfter: r.NotAfter, Replaces: r.Replaces})
	}
	return rows, nil
}
