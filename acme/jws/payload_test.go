package jws

import (
	"errors"
	"strings"
	"testing"

	"github.com/acmegate/acmegate/acme/problem"
)

type testIdentifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type testCommon struct {
	Profile string `json:"profile,omitempty"`
}

// testOrder looks like a newOrder payload, with an embedded struct to check
// that promoted fields are known.
type testOrder struct {
	testCommon
	Identifiers []testIdentifier `json:"identifiers"`
	NotAfter    string           `json:"notAfter,omitempty"`
	CSR         string           `json:"csr,omitempty"`
}

func TestDecodePayload(t *testing.T) {
	t.Parallel()
	var got testOrder
	payload := `{"identifiers":[{"type":"dns","value":"a.corp"}],"profile":"tls",` +
		`"x-client":{"n":1e999,"deep":[[[{}]]]}}`
	if err := DecodePayload([]byte(payload), &got); err != nil {
		t.Fatalf("DecodePayload: %v", err)
	}
	if len(got.Identifiers) != 1 || got.Identifiers[0].Value != "a.corp" || got.Profile != "tls" {
		t.Errorf("got %+v, want one identifier a.corp and profile tls", got)
	}
}

func TestDecodePayloadRefuses(t *testing.T) {
	t.Parallel()
	nest := func(n int) string {
		return `{"x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`
	}
	tests := []struct {
		name    string
		payload string
		detail  string // a part of the detail the client sees
	}{
		{"A12 duplicate identifiers", `{"identifiers":[],"identifiers":[{"type":"dns","value":"b"}]}`,
			`duplicate member "identifiers"`},
		{"A12 duplicate csr", `{"csr":"AAAA","csr":"BBBB"}`, `duplicate member "csr"`},
		{"A12 case-variant identifiers", `{"identifiers":[],"Identifiers":[{"type":"dns","value":"b"}]}`,
			`"Identifiers" differs from "identifiers"`},
		{"A12 case variant alone", `{"IDENTIFIERS":[]}`, "only in case"},
		{"A12 case variant by Unicode folding", `{"identifierſ":[]}`, "only in case"},
		{"A12 case variant of embedded field", `{"Profile":"x"}`, "only in case"},
		{"A12 case variant in nested struct", `{"identifiers":[{"Type":"ip","value":"b"}]}`,
			`"Type" differs from "type"`},
		{"A12 duplicate in nested struct", `{"identifiers":[{"type":"dns","type":"ip"}]}`,
			`duplicate member "type"`},
		{"A12 duplicate in unknown member", `{"ext":{"a":1,"a":2}}`, `duplicate member "a"`},
		{"nesting too deep", nest(MaxDepth), "deeper than 32"},
		{"invalid UTF-8", "{\"csr\":\"\xff\xfe\"}", "UTF-8"},
		{"trailing data", `{"csr":"A"} {"csr":"B"}`, "after the JSON value"},
		{"not an object", `[{"csr":"A"}]`, "object is required"},
		{"null", `null`, "object is required"},
		{"empty", ``, "empty"},
		{"syntax error", `{"csr":}`, "invalid JSON"},
		{"wrong type", `{"identifiers":"a.corp"}`, `"identifiers" must not be a JSON string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got testOrder
			err := DecodePayload([]byte(tc.payload), &got)
			wantProblem(t, err, problem.Malformed)
			var pe *problem.Error
			_ = errors.As(err, &pe)
			if !strings.Contains(pe.Detail, tc.detail) {
				t.Errorf("got detail %q, want it to contain %q", pe.Detail, tc.detail)
			}
		})
	}
}

func TestDecodePayloadDepthLimit(t *testing.T) {
	t.Parallel()
	// The object itself is one level, so MaxDepth-1 arrays fit.
	ok := `{"x":` + strings.Repeat("[", MaxDepth-1) + strings.Repeat("]", MaxDepth-1) + `}`
	var got map[string]any
	if err := DecodePayload([]byte(ok), &got); err != nil {
		t.Fatalf("got %v, want %d levels accepted", err, MaxDepth)
	}
}

func TestDecodePayloadNeedsPointer(t *testing.T) {
	t.Parallel()
	var pe *problem.Error
	for _, v := range []any{nil, testOrder{}, (*testOrder)(nil)} {
		err := DecodePayload([]byte(`{}`), v)
		if err == nil || errors.As(err, &pe) {
			t.Errorf("DecodePayload(%T): got %v, want a plain programming error", v, err)
		}
	}
}
