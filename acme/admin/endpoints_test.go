package admin_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/policy"
	"github.com/acmegate/acmegate/acme/server"
	"github.com/acmegate/acmegate/acme/state"
)

// certificate is the part of the API's certificate answer the tests read.
type certificate struct {
	Serial           string   `json:"serial"`
	Names            []string `json:"names"`
	Status           string   `json:"status"`
	RevocationReason *int     `json:"revocation_reason"`
	PEM              string   `json:"pem"`
}

func TestCertificates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	web := e.issue(t, "web.corp.test")
	db := e.issue(t, "db.corp.test", "db2.corp.test")
	webSerial, dbSerial := hexSerial(web.Cert), hexSerial(db.Cert)

	var list struct{ Certificates []certificate }
	e.as(t, "GET", "/v1/certificates", nil).want(t, 200).json(t, &list)
	if len(list.Certificates) != 2 || list.Certificates[0].Serial != dbSerial {
		t.Fatalf("list: got %+v, want db then web", list.Certificates)
	}
	e.as(t, "GET", "/v1/certificates?name=db*.corp&status=valid", nil).want(t, 200).json(t, &list)
	if len(list.Certificates) != 1 || !slices.Equal(list.Certificates[0].Names,
		[]string{"db.corp.test", "db2.corp.test"}) {
		t.Fatalf("name filter: got %+v, want the db certificate", list.Certificates)
	}

	var one certificate
	e.as(t, "GET", "/v1/certificates/"+strings.ToUpper(webSerial), nil).want(t, 200).json(t, &one)
	if one.Serial != webSerial || !strings.HasPrefix(one.PEM, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("show: got serial %q and PEM %.40q", one.Serial, one.PEM)
	}

	refusals := []struct {
		method, path string
		body         any
		status       int
	}{
		{"GET", "/v1/certificates?status=lost", nil, 400},
		{"GET", "/v1/certificates?expiring_within=soon", nil, 400},
		{"GET", "/v1/certificates?limit=0", nil, 400},
		{"GET", "/v1/certificates/not-hex", nil, 400},
		{"GET", "/v1/certificates/abcdef0123", nil, 404},
		{"POST", "/v1/certificates/abcdef0123/revoke", map[string]any{}, 404},
		{"POST", "/v1/certificates/" + webSerial + "/revoke", map[string]any{"reason": 2}, 400},
		{"POST", "/v1/certificates/" + webSerial + "/revoke",
			map[string]any{"reason": "bored"}, 400},
		{"POST", "/v1/certificates/" + webSerial + "/revoke",
			map[string]any{"reason": 0, "extra": true}, 400},
		{"POST", "/v1/renewals", map[string]any{"name": "web", "reason": ""}, 400},
		{"POST", "/v1/renewals", map[string]any{"reason": "everything"}, 400},
	}
	for _, tc := range refusals {
		r := e.as(t, tc.method, tc.path, tc.body)
		if r.status != tc.status {
			t.Errorf("%s %s: got status %d (%s), want %d", tc.method, tc.path, r.status, r.body,
				tc.status)
		}
	}

	// Revocation goes through the state machine and records the operator.
	e.as(t, "POST", "/v1/certificates/"+webSerial+"/revoke",
		map[string]any{"reason": "superseded", "comment": "CHG-42"}).want(t, 200).json(t, &one)
	if one.Status != "revoked" || one.RevocationReason == nil || *one.RevocationReason != 4 {
		t.Errorf("revoke: got status %q, reason %v; want revoked with 4", one.Status,
			one.RevocationReason)
	}
	ev := e.lastAudit(t)
	if ev.Type != state.EventCertificateRevoked || ev.Actor != "operator:alice" ||
		ev.Subject != "certificate:"+webSerial || ev.Reason != "CHG-42" {
		t.Errorf("audit: got %s by %s on %s (%q), want %s by operator:alice on %s", ev.Type,
			ev.Actor, ev.Subject, ev.Reason, state.EventCertificateRevoked, webSerial)
	}
	r := e.as(t, "POST", "/v1/certificates/"+webSerial+"/revoke", map[string]any{"reason": 4})
	if r.want(t, http.StatusConflict); !strings.Contains(r.errorMessage(t), "already revoked") {
		t.Errorf("second revocation: got %s, want already revoked", r.body)
	}

	// A pushed renewal marks the valid certificates and is audited.
	var pushed struct{ Serials []string }
	e.as(t, "POST", "/v1/renewals", map[string]any{"name": "corp.test", "reason": "CA rotation"}).
		want(t, 200).json(t, &pushed)
	if !slices.Equal(pushed.Serials, []string{dbSerial}) {
		t.Errorf("renewals: got %v, want only the valid %s", pushed.Serials, dbSerial)
	}
	ev = e.lastAudit(t)
	if ev.Type != state.EventRenewalPushed || ev.Actor != "operator:alice" ||
		ev.Reason != "CA rotation" || !strings.Contains(ev.Data, "token:adm_") {
		t.Errorf("audit: got %+v, want %s by operator:alice naming the token",
			ev, state.EventRenewalPushed)
	}
}

func TestReportAndAudit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	e.issue(t, "web.corp.test")
	e.gw.Clock.Add(time.Second) // the report's period ends before now

	var rep struct {
		Rows []struct {
			Issued int `json:"issued"`
		} `json:"rows"`
	}
	e.as(t, "GET", "/v1/report", nil).want(t, 200).json(t, &rep)
	if len(rep.Rows) != 1 || rep.Rows[0].Issued != 1 {
		t.Errorf("report: got %+v, want one row with one issuance", rep.Rows)
	}
	e.as(t, "GET", "/v1/report?from=yesterday", nil).want(t, 400)
	e.as(t, "GET", "/v1/report?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", nil).
		want(t, 400)

	type page struct {
		Events []struct {
			Seq  int64           `json:"seq"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"events"`
		NextAfterSeq int64 `json:"next_after_seq"`
	}
	var all, second page
	e.as(t, "GET", "/v1/audit?limit=1000", nil).want(t, 200).json(t, &all)
	if len(all.Events) < 3 || all.Events[0].Seq != 1 {
		t.Fatalf("audit: got %d events, want the whole log from 1", len(all.Events))
	}
	e.as(t, "GET", "/v1/audit?after_seq=1&limit=2", nil).want(t, 200).json(t, &second)
	if len(second.Events) != 2 || second.Events[0].Seq != 2 || second.NextAfterSeq != 3 {
		t.Errorf("audit page: got %+v, want events 2 and 3 and next_after_seq 3", second)
	}
	e.as(t, "GET", "/v1/audit?after_seq=-1", nil).want(t, 400)
	e.as(t, "GET", "/v1/audit?limit=5000", nil).want(t, 400)

	var verify struct {
		Intact bool  `json:"intact"`
		Events int64 `json:"events"`
	}
	e.as(t, "GET", "/v1/audit/verify", nil).want(t, 200).json(t, &verify)
	if !verify.Intact || verify.Events != int64(len(all.Events)) {
		t.Errorf("verify: got %+v, want intact with %d events", verify, len(all.Events))
	}
}

func TestEABKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{Config: state.Config{RequireEAB: true},
		Meta: server.Meta{ExternalAccountRequired: true}})

	var key struct {
		ID        string `json:"id"`
		Label     string `json:"label"`
		Directory string `json:"directory"`
		MACKey    string `json:"mac_key"`
	}
	r := e.as(t, "POST", "/v1/eab-keys", map[string]any{"label": "team payments"})
	r.want(t, http.StatusCreated).json(t, &key)
	if !strings.HasPrefix(key.ID, "eab_") || key.Directory != "acme" || key.MACKey == "" {
		t.Fatalf("create: got %+v, want an eab_ ID in directory acme with a MAC key", key)
	}
	ev := e.lastAudit(t)
	if ev.Type != state.EventEABKeyCreated || ev.Actor != "operator:alice" ||
		ev.Subject != "eab:"+key.ID || strings.Contains(ev.Data, key.MACKey) {
		t.Errorf("audit: got %+v, want %s by operator:alice without the MAC key", ev,
			state.EventEABKeyCreated)
	}

	// The key binds a new account.
	mac, err := base64.RawURLEncoding.DecodeString(key.MACKey)
	if err != nil {
		t.Fatalf("MAC key %q is not base64url: %v", key.MACKey, err)
	}
	cl := e.gw.NewClient(t, jose.ES256)
	newAccount := func(cl *acmetest.Client) *acmetest.Response {
		t.Helper()
		protected, _ := json.Marshal(map[string]any{"alg": "HS256", "kid": key.ID,
			"url": e.gw.URLFor("new-account")})
		binding := acmetest.SignRaw(t, mac, "HS256", protected, cl.JWKJSON(t))
		return cl.PostJSON(t, e.gw.URLFor("new-account"), map[string]any{
			"termsOfServiceAgreed": true, "externalAccountBinding": json.RawMessage(binding)})
	}
	newAccount(cl).Want(t, http.StatusCreated)

	var list struct {
		EABKeys []map[string]any `json:"eab_keys"`
	}
	e.as(t, "GET", "/v1/eab-keys", nil).want(t, 200).json(t, &list)
	if len(list.EABKeys) != 1 || list.EABKeys[0]["bindings"] != float64(1) {
		t.Fatalf("list: got %+v, want the key with one binding", list.EABKeys)
	}
	if _, ok := list.EABKeys[0]["mac_key"]; ok {
		t.Errorf("list shows the MAC key: %+v", list.EABKeys[0])
	}

	// Refusals, then revocation.
	e.as(t, "POST", "/v1/eab-keys", map[string]any{"label": ""}).want(t, 400)
	e.as(t, "POST", "/v1/eab-keys", map[string]any{"label": "x", "directory": "staging"}).
		want(t, 400)
	e.as(t, "POST", "/v1/eab-keys", []byte(`{"label": "x"`)).want(t, 400)
	e.as(t, "DELETE", "/v1/eab-keys/"+key.ID, nil).want(t, 200)
	if ev := e.lastAudit(t); ev.Type != state.EventEABKeyRevoked || ev.Actor != "operator:alice" {
		t.Errorf("audit: got %s by %s, want %s by operator:alice", ev.Type, ev.Actor,
			state.EventEABKeyRevoked)
	}
	e.as(t, "DELETE", "/v1/eab-keys/"+key.ID, nil).want(t, 404)
	if r := newAccount(e.gw.NewClient(t, jose.ES256)); r.Status < 400 {
		t.Errorf("registering with the revoked key: got status %d, want a refusal", r.Status)
	}
	e.as(t, "DELETE", "/v1/eab-keys/eab_unknown", nil).want(t, 404)
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, acmetest.Options{})
	r := e.as(t, "GET", "/v1/policy", nil).want(t, 404)
	if !strings.Contains(r.errorMessage(t), "built-in rule") {
		t.Errorf("got %s, want a note that the built-in rule is in force", r.body)
	}

	doc := []byte("rules:\n  - name: everyone\n    owner: pki-team\n    match: {default: true}\n" +
		"    allow_names: [corp.test]\n")
	type saved struct {
		Version   int    `json:"version"`
		Author    string `json:"author"`
		Document  string `json:"document"`
		Unchanged bool   `json:"unchanged"`
	}
	var got saved
	e.as(t, "PUT", "/v1/policy", doc).want(t, 200).json(t, &got)
	if got.Version != 1 || got.Author != "operator:alice" || got.Unchanged {
		t.Fatalf("save: got %+v, want version 1 by operator:alice", got)
	}
	if ev := e.lastAudit(t); ev.Type != policy.EventChanged || ev.Actor != "operator:alice" {
		t.Errorf("audit: got %s by %s, want %s by operator:alice", ev.Type, ev.Actor,
			policy.EventChanged)
	}
	e.as(t, "PUT", "/v1/policy", doc).want(t, 200).json(t, &got)
	if got.Version != 1 || !got.Unchanged {
		t.Errorf("same document: got %+v, want version 1 unchanged", got)
	}
	r = e.as(t, "PUT", "/v1/policy", []byte("rules:\n  - name: r\n"))
	if r.want(t, 400); !strings.Contains(r.errorMessage(t), "owner") {
		t.Errorf("invalid document: got %s, want the missing owner named", r.body)
	}

	e.as(t, "GET", "/v1/policy", nil).want(t, 200).json(t, &got)
	if got.Document != string(doc) {
		t.Errorf("show: got document %q, want %q", got.Document, doc)
	}
	r = e.do(t, request{method: "GET", path: "/v1/policy", token: e.token,
		header: map[string]string{"Accept": "application/yaml"}}).want(t, 200)
	if string(r.body) != string(doc) || r.header.Get("X-Acmegate-Policy-Version") != "1" {
		t.Errorf("show as YAML: got %q (version %q), want the document", r.body,
			r.header.Get("X-Acmegate-Policy-Version"))
	}
	if _, err := policy.Parse(r.body); err != nil {
		t.Errorf("the YAML answer does not parse: %v", err)
	}
}
