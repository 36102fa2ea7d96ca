package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/acme/server"
)

// wantRows is the mapping table as this test expects it, written out
// independently of the problem package (RFC 8555, Section 6.7, and the
// statuses acmegate pins for its own types).
var wantRows = map[problem.Type]struct {
	wire   string
	status int
}{
	problem.AccountDoesNotExist:     {"accountDoesNotExist", 400},
	problem.AlreadyRevoked:          {"alreadyRevoked", 400},
	problem.BadCSR:                  {"badCSR", 400},
	problem.BadNonce:                {"badNonce", 400},
	problem.BadPublicKey:            {"badPublicKey", 400},
	problem.BadRevocationReason:     {"badRevocationReason", 400},
	problem.BadSignatureAlgorithm:   {"badSignatureAlgorithm", 400},
	problem.CAA:                     {"caa", 403},
	problem.Compound:                {"compound", 400},
	problem.Connection:              {"connection", 400},
	problem.DNS:                     {"dns", 400},
	problem.ExternalAccountRequired: {"externalAccountRequired", 401},
	problem.IncorrectResponse:       {"incorrectResponse", 400},
	problem.InvalidContact:          {"invalidContact", 400},
	problem.Malformed:               {"malformed", 400},
	problem.OrderNotReady:           {"orderNotReady", 403},
	problem.RateLimited:             {"rateLimited", 429},
	problem.RejectedIdentifier:      {"rejectedIdentifier", 400},
	problem.ServerInternal:          {"serverInternal", 500},
	problem.TLS:                     {"tls", 400},
	problem.Unauthorized:            {"unauthorized", 403},
	problem.UnsupportedContact:      {"unsupportedContact", 400},
	problem.UnsupportedIdentifier:   {"unsupportedIdentifier", 400},
	problem.UserActionRequired:      {"userActionRequired", 403},
	problem.BadAttestationStatement: {"badAttestationStatement", 400},
	problem.InvalidProfile:          {"invalidProfile", 400},
	problem.AlreadyReplaced:         {"alreadyReplaced", 409},
	problem.Conflict:                {"conflict", 409},
	problem.NotFound:                {"malformed", 404},
	problem.MethodNotAllowed:        {"malformed", 405},
	problem.UnsupportedMediaType:    {"malformed", 415},
	problem.PayloadTooLarge:         {"malformed", 413},
	problem.Unavailable:             {"serverInternal", 503},
}

// problemMembers are the members a problem document may have (RFC 7807,
// Section 3.1, and RFC 8555, Sections 6.2 and 6.7.1).
var problemMembers = []string{"type", "detail", "status", "identifier", "subproblems", "algorithms"}

// problemGateway is a gateway with a route that answers with whatever
// error the test puts in fail.
func problemGateway(t *testing.T, fail func(c echo.Context) error) *acmetest.Gateway {
	t.Helper()
	gw := acmetest.New(t, acmetest.Options{})
	server.AddRoute(gw.Server, http.MethodGet, server.Prefix+"/test-error/:type", fail)
	server.AddRoute(gw.Server, http.MethodHead, server.Prefix+"/test-error/:type", fail)
	return gw
}

// TestProblemTable walks every row of the problem mapping table through
// the server's error handler: the URN, the HTTP status, the status member,
// the content type and the JSON shape.
func TestProblemTable(t *testing.T) {
	t.Parallel()
	gw := problemGateway(t, func(c echo.Context) error {
		return problem.New(problem.Type(c.Param("type")), "a detail for %s", c.Param("type"))
	})

	types := problem.Types()
	slices.Sort(types)
	for _, typ := range types {
		t.Run(string(typ), func(t *testing.T) {
			want, ok := wantRows[typ]
			if !ok {
				t.Fatalf("the problem table has a row for %q that this test does not know; "+
					"add its wire name and status to wantRows", typ)
			}
			if got := problem.URN(typ); got != problem.URNPrefix+want.wire ||
				!strings.HasPrefix(got, "urn:ietf:params:acme:error:") {
				t.Errorf("got URN %q, want %q", got, urn(want.wire))
			}
			if got := problem.Status(typ); got != want.status {
				t.Errorf("got status %d, want %d", got, want.status)
			}

			r := gw.Serve(t, gw.NewRequest(t, http.MethodGet, gw.URLFor("test-error", string(typ)), "", nil))
			doc := wantProblem(t, r, want.status, want.wire)
			if doc.Detail != "a detail for "+string(typ) {
				t.Errorf("got detail %q, want the handler's", doc.Detail)
			}
			var members map[string]json.RawMessage
			if err := json.Unmarshal(r.Body, &members); err != nil {
				t.Fatalf("decoding the document: %v", err)
			}
			for name := range members {
				if !slices.Contains(problemMembers, name) {
					t.Errorf("got member %q, want only %v", name, problemMembers)
				}
			}
			for _, name := range []string{"type", "detail", "status"} {
				if _, ok := members[name]; !ok {
					t.Errorf("got no %q member", name)
				}
			}
		})
	}
	for typ := range wantRows {
		if !slices.Contains(types, typ) {
			t.Errorf("the problem table lost its row for %q", typ)
		}
	}
}

// TestErrorHandler checks the parts of the error handler the table does
// not: unknown types, errors that are not problems, the fields that become
// headers or members, and HEAD requests.
func TestErrorHandler(t *testing.T) {
	t.Parallel()
	secret := errors.New(`store: UPDATE "orders" SET ... /var/lib/acmegate/db.sqlite: disk I/O error`)
	errs := map[string]error{
		"unknown":  problem.New("noSuchType", "whatever"),
		"plain":    secret,
		"wrapped":  fmt.Errorf("finalizing: %w", problem.New(problem.BadCSR, "wrapped detail")),
		"retry":    &problem.Error{Type: problem.RateLimited, Detail: "slow down", RetryAfter: 7},
		"location": &problem.Error{Type: problem.Conflict, Detail: "in use", Location: "http://x/acct/1"},
		"algorithm": &problem.Error{Type: problem.BadSignatureAlgorithm, Detail: "no",
			Algorithms: []string{"ES256"}},
		"sub": &problem.Error{Type: problem.RejectedIdentifier, Detail: "2 refused",
			Subproblems: []*problem.Error{
				{Type: problem.RejectedIdentifier, Detail: "bad",
					Identifier: &problem.Identifier{Type: "dns", Value: "a"}},
				{Type: problem.UnsupportedIdentifier, Detail: "odd",
					Identifier: &problem.Identifier{Type: "x", Value: "b"}},
			}},
		"echo404": echo.ErrNotFound,
		"echo400": echo.NewHTTPError(http.StatusBadRequest, "bad framing"),
		"echo502": echo.NewHTTPError(http.StatusBadGateway, "upstream said no"),
	}
	gw := problemGateway(t, func(c echo.Context) error { return errs[c.Param("type")] })
	get := func(t *testing.T, name string) *acmetest.Response {
		return gw.Serve(t, gw.NewRequest(t, http.MethodGet, gw.URLFor("test-error", name), "", nil))
	}
	generic := "the server could not complete the request"

	t.Run("unknown type", func(t *testing.T) {
		wantProblem(t, get(t, "unknown"), 500, "serverInternal")
	})
	for _, name := range []string{"plain", "echo502"} {
		t.Run(name+" error is hidden", func(t *testing.T) {
			doc := wantProblem(t, get(t, name), 500, "serverInternal")
			if doc.Detail != generic {
				t.Errorf("got detail %q, want the generic %q", doc.Detail, generic)
			}
		})
	}
	t.Run("wrapped problem", func(t *testing.T) {
		if doc := wantProblem(t, get(t, "wrapped"), 400, "badCSR"); doc.Detail != "wrapped detail" {
			t.Errorf("got detail %q, want the problem's", doc.Detail)
		}
	})
	t.Run("Retry-After", func(t *testing.T) {
		r := get(t, "retry")
		wantProblem(t, r, 429, "rateLimited")
		if got := r.Header.Get("Retry-After"); got != "7" {
			t.Errorf("got Retry-After %q, want 7", got)
		}
	})
	t.Run("Location", func(t *testing.T) {
		r := get(t, "location")
		wantProblem(t, r, 409, "conflict")
		if got := r.Location(); got != "http://x/acct/1" {
			t.Errorf("got Location %q, want the problem's", got)
		}
	})
	t.Run("algorithms", func(t *testing.T) {
		doc := wantProblem(t, get(t, "algorithm"), 400, "badSignatureAlgorithm")
		if !slices.Equal(doc.Algorithms, []string{"ES256"}) {
			t.Errorf("got algorithms %v, want [ES256]", doc.Algorithms)
		}
	})
	t.Run("subproblems", func(t *testing.T) {
		doc := wantProblem(t, get(t, "sub"), 400, "rejectedIdentifier")
		if len(doc.Subproblems) != 2 || doc.Subproblems[1].Type != urn("unsupportedIdentifier") ||
			doc.Subproblems[1].Status != 400 || doc.Subproblems[1].Identifier.Value != "b" {
			t.Errorf("got subproblems %+v, want both with type, status and identifier", doc.Subproblems)
		}
	})
	t.Run("echo errors", func(t *testing.T) {
		wantProblem(t, get(t, "echo404"), 404, "malformed")
		if doc := wantProblem(t, get(t, "echo400"), 400, "malformed"); doc.Detail != "bad framing" {
			t.Errorf("got detail %q, want echo's message", doc.Detail)
		}
	})
	t.Run("HEAD has no body", func(t *testing.T) {
		r := gw.Serve(t, gw.NewRequest(t, http.MethodHead, gw.URLFor("test-error", "retry"), "", nil))
		if r.Status != 429 || len(r.Body) != 0 || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("got %s with Content-Type %q, want 429 without a body", r, r.Header.Get("Content-Type"))
		}
	})
}

// TestHandlerPanic covers catalogue row A13: a panic in a handler becomes a
// serverInternal problem with a generic detail and a fresh nonce, and the
// server keeps answering.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	gw := acmetest.New(t, acmetest.Options{})
	server.AddRoute(gw.Server, http.MethodPost, server.Prefix+"/test-panic", func(echo.Context) error {
		panic("index out of range [3] with length 3 in /src/acmegate/parser.go")
	})
	before := gw.Snapshot(t)
	req := gw.NewRequest(t, http.MethodPost, gw.URLFor("test-panic"), acmetest.ContentType, []byte("{}"))
	r := gw.Serve(t, req)
	doc := wantProblem(t, r, http.StatusInternalServerError, "serverInternal")
	if strings.Contains(doc.Detail, "index") || strings.Contains(doc.Detail, "/src/") {
		t.Errorf("got detail %q, which leaks the panic", doc.Detail)
	}
	if diff := before.Diff(gw.Snapshot(t)); diff != "" {
		t.Errorf("the panic changed stored state: %s", diff)
	}
	gw.Serve(t, gw.NewRequest(t, http.MethodGet, gw.URLFor("directory"), "", nil)).Want(t, http.StatusOK)
}
