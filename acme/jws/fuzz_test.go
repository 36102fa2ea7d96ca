package jws

import (
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// FuzzParse runs hostile bodies through Parse and, when a jwk is embedded,
// Verify (catalogue A13). Neither may panic, and every refusal must be a
// *problem.Error so that the client gets a proper problem document. The
// committed corpus in testdata/fuzz/FuzzParse adds fixed valid and hostile
// bodies to the seeds below.
func FuzzParse(f *testing.F) {
	k := keys(f)
	f.Add(joseSign(f, k.ec256, jose.ES256, "", []byte(`{"identifiers":[]}`)))
	f.Add(joseSign(f, k.ed, jose.EdDSA, testKID, []byte{}))
	f.Add(validBody(f, k))
	f.Add(dotFlood[:64])
	f.Add([]byte(`{"protected":"e30","payload":"","signature":"AA","header":{}}`))
	f.Add([]byte(`{"payload":"","signatures":[{"protected":"e30","signature":"AA"}]}`))

	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := Parse(body)
		if err != nil {
			wantAnyProblem(t, "Parse", err)
			return
		}
		if req.Protected.JWK == nil {
			return
		}
		if _, err := req.Verify(req.Protected.JWK); err != nil {
			wantAnyProblem(t, "Verify", err)
		}
	})
}

// wantAnyProblem fails unless err is a *problem.Error.
func wantAnyProblem(t *testing.T, what string, err error) {
	t.Helper()
	var pe *problem.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%s: got %v (%T), want a *problem.Error", what, err, err)
	}
}

// FuzzDecodePayload checks that the strict payload decoder never panics and
// refuses only with a *problem.Error.
func FuzzDecodePayload(f *testing.F) {
	f.Add([]byte(`{"identifiers":[{"type":"dns","value":"a.corp"}],"profile":"tls"}`))
	f.Add([]byte(`{"identifiers":[],"Identifiers":[]}`))
	f.Add([]byte(`{"x":[[[[{"a":1,"a":2}]]]]}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		var order testOrder
		if err := DecodePayload(payload, &order); err != nil {
			wantAnyProblem(t, "DecodePayload", err)
		}
	})
}
