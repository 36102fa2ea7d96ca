package tkauth

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/challenges"
)

// FuzzParseToken feeds arbitrary strings to the token parser, from a corpus
// of well-formed tokens, "none" and HS256 tokens, a dot flood and a JWE. The
// parser must not panic; it fails only with a malformed or unauthorized
// error whose detail is short and shows nothing of the token; and what it
// accepts has an accepted algorithm (SECURITY-CATALOGUE A1, A4, A13).
func FuzzParseToken(f *testing.F) {
	f.Fuzz(func(t *testing.T, compact string) {
		tok, err := parseToken(compact, defaultAlgorithms)
		if err == nil {
			if !slices.Contains(defaultAlgorithms, jose.SignatureAlgorithm(tok.header.Algorithm)) {
				t.Fatalf("accepted algorithm %q", tok.header.Algorithm)
			}
			return
		}

		var ce *challenges.Error
		if !errors.As(err, &ce) {
			t.Fatalf("got error %v (%T), want a *challenges.Error", err, err)
		}
		if ce.Kind != challenges.KindMalformed && ce.Kind != challenges.KindUnauthorized {
			t.Fatalf("got kind %q, want malformed or unauthorized", ce.Kind)
		}
		if len(ce.Detail) > 120 {
			t.Fatalf("got a detail of %d bytes, want at most 120", len(ce.Detail))
		}
		for _, part := range strings.Split(compact, ".") {
			if len(part) >= 24 && strings.Contains(ce.Detail, part) {
				t.Fatalf("got detail %q, which shows part of the token", ce.Detail)
			}
		}
	})
}
