package admin_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/admin"
	"github.com/acmegate/acmegate/store"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	ctx := context.Background()

	revokedToken, row, err := admin.CreateToken(ctx, e.gw.Store, rand.Reader, "mallory", "operator")
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.RevokeToken(ctx, e.gw.Store, row.ID, "operator", e.gw.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	operatorCert := e.tlsCert(e.issue(t, operatorName))
	otherCert := e.tlsCert(e.issue(t, "web.corp.test"))
	revokedIss := e.issue(t, operatorName)
	err = e.gw.Engine.RevokeByOperator(ctx, hexSerial(revokedIss.Cert), 5, "operator:test", "")
	if err != nil {
		t.Fatal(err)
	}
	revokedCert := e.tlsCert(revokedIss)
	foreign := foreignCert(t, operatorName, e.gw.Clock.Now())
	serverOnly := e.unrecordedCert(t, operatorName, x509.ExtKeyUsageServerAuth)
	unrecorded := e.unrecordedCert(t, operatorName, x509.ExtKeyUsageClientAuth)

	tests := []struct {
		name       string
		token      string
		header     string
		cert       *tls.Certificate
		wantStatus int
		wantError  string
	}{
		{name: "no credential", wantStatus: 401, wantError: "authentication required"},
		{name: "basic auth", header: "Basic YWxpY2U6cGFzcw==", wantStatus: 401,
			wantError: "Bearer"},
		{name: "empty bearer", header: "Bearer ", wantStatus: 401, wantError: "Bearer"},
		{name: "wrong token", token: admin.TokenPrefix + "not-a-real-token", wantStatus: 401,
			wantError: "not valid"},
		{name: "token hash as token", token: admin.HashToken(e.token), wantStatus: 401,
			wantError: "not valid"},
		{name: "revoked token", token: revokedToken, wantStatus: 401, wantError: "revoked"},
		{name: "valid token", token: e.token, wantStatus: 200},
		{name: "wrong token beats a valid certificate", token: "nope", cert: operatorCert,
			wantStatus: 401, wantError: "not valid"},
		{name: "valid token with an untrusted certificate", token: e.token, cert: foreign,
			wantStatus: 200},
		{name: "untrusted certificate", cert: foreign, wantStatus: 401, wantError: "not trusted"},
		{name: "certificate without clientAuth", cert: serverOnly, wantStatus: 401,
			wantError: "not trusted"},
		{name: "certificate not recorded", cert: unrecorded, wantStatus: 403,
			wantError: "not issued here"},
		{name: "certificate naming no operator", cert: otherCert, wantStatus: 403,
			wantError: "names no operator"},
		{name: "revoked certificate", cert: revokedCert, wantStatus: 403, wantError: "revoked"},
		{name: "valid certificate", cert: operatorCert, wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := request{method: http.MethodGet, path: "/v1/eab-keys", token: tc.token,
				cert: tc.cert}
			if tc.header != "" {
				req.header = map[string]string{"Authorization": tc.header}
			}
			r := e.do(t, req)
			if r.status != tc.wantStatus {
				t.Fatalf("got status %d (%s), want %d", r.status, r.body, tc.wantStatus)
			}
			if tc.wantStatus == 200 {
				return
			}
			if msg := r.errorMessage(t); !strings.Contains(msg, tc.wantError) {
				t.Errorf("got error %q, want it to mention %q", msg, tc.wantError)
			}
			if tc.token != "" && strings.Contains(string(r.body), tc.token) {
				t.Errorf("the answer echoes the token: %s", r.body)
			}
		})
	}
}

func TestOperatorEndpointsNeedAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	for _, path := range []string{"/metrics", "/debug/pprof/", "/v1/audit", "/v1/nothing"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, request{method: http.MethodGet, path: path})
			if r.status != http.StatusUnauthorized {
				t.Fatalf("anonymous: got status %d, want 401", r.status)
			}
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate: got %q, want a Bearer challenge", got)
			}
		})
	}
	tests := []struct {
		path, want string
		status     int
	}{
		{"/metrics", "admin_test_total", 200},
		{"/debug/pprof/", "goroutine", 200},
		{"/v1/nothing", "no such resource", 404},
	}
	for _, tc := range tests {
		t.Run(tc.path+" as operator", func(t *testing.T) {
			t.Parallel()
			r := e.as(t, http.MethodGet, tc.path, nil).want(t, tc.status)
			if !strings.Contains(string(r.body), tc.want) {
				t.Errorf("got %.200s, want it to contain %q", r.body, tc.want)
			}
		})
	}
}

func TestTokensAreStoredHashed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	if !strings.HasPrefix(e.token, admin.TokenPrefix) || len(e.token) < 40 {
		t.Fatalf("got token %q, want %s and 43 base64url characters", e.token, admin.TokenPrefix)
	}
	rows, err := e.gw.Store.Read(context.Background()).AdminTokens()
	if err != nil || len(rows) != 1 {
		t.Fatalf("got %d tokens, %v; want 1", len(rows), err)
	}
	if rows[0].Hash != admin.HashToken(e.token) || strings.Contains(rows[0].Hash, e.token) {
		t.Errorf("stored hash %q is not the SHA-256 of the token", rows[0].Hash)
	}
	ev := e.lastAudit(t)
	if ev.Type != admin.EventTokenCreated || ev.Subject != "admin_token:"+rows[0].ID ||
		strings.Contains(ev.Data, e.token) {
		t.Errorf("got audit event %+v, want %s for %s without the token", ev,
			admin.EventTokenCreated, rows[0].ID)
	}
	if _, _, err := admin.NewToken(rand.Reader, " \t"); err == nil {
		t.Error("blank label: got no error")
	}
	err = admin.RevokeToken(context.Background(), e.gw.Store, "adm_unknown", "operator",
		e.gw.Clock.Now())
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking an unknown token: got %v, want not found", err)
	}
}
