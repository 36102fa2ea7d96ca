package jws

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
)

// dotFlood is the body of GHSA-c6gw-w398-hv78 (catalogue A4).
var dotFlood = []byte("e30." + strings.Repeat(".", 40000))

// TestDotFloodIsCheap pins catalogue A4: the flood is refused in under 10ms
// with under 64 KiB allocated. It does not run in parallel so that the
// allocation figures are its own.
func TestDotFloodIsCheap(t *testing.T) {
	const runs = 100
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		_, err := Parse(dotFlood)
		wantProblem(t, err, problem.Malformed)
	}
	runtime.ReadMemStats(&after)
	if bytes := (after.TotalAlloc - before.TotalAlloc) / runs; bytes > 64<<10 {
		t.Errorf("got %d bytes allocated per Parse, want under 64 KiB", bytes)
	}
	if allocs := testing.AllocsPerRun(runs, func() { _, _ = Parse(dotFlood) }); allocs > 16 {
		t.Errorf("got %v allocations per Parse, want at most 16", allocs)
	}
}

func TestBadSignatureAlgorithmListsAccepted(t *testing.T) {
	t.Parallel()
	k := keys(t)
	_, err := Parse(withHeader(map[string]any{"alg": "HS256"})(t, k))
	wantProblem(t, err, problem.BadSignatureAlgorithm)
	got := err.(*problem.Error).Algorithms
	want := []string{"ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"}
	if !slices.Equal(got, want) {
		t.Errorf("got algorithms %v, want %v", got, want)
	}

	eab := eabBody(t, k, "RS256", eabMAC, nil, nil)
	_, err = VerifyExternalAccountBinding(eab, newAccountURL, publicJWK(t, k.ec256), eabLookup)
	wantProblem(t, err, problem.BadSignatureAlgorithm)
	got = err.(*problem.Error).Algorithms
	if want := []string{"HS256", "HS384", "HS512"}; !slices.Equal(got, want) {
		t.Errorf("got EAB algorithms %v, want %v", got, want)
	}
}

// BenchmarkVerifyES256 measures Parse and Verify of a typical newOrder.
func BenchmarkVerifyES256(b *testing.B) {
	k := keys(b)
	payload := []byte(`{"identifiers":[{"type":"dns","value":"www.corp.internal"},` +
		`{"type":"dns","value":"corp.internal"}]}`)
	body := joseSign(b, k.ec256, jose.ES256, testKID, payload)
	accountKey := publicJWK(b, k.ec256)
	b.ReportAllocs()
	for b.Loop() {
		req, err := Parse(body)
		if err != nil {
			b.Fatalf("Parse: %v", err)
		}
		if _, err := req.Verify(accountKey); err != nil {
			b.Fatalf("Verify: %v", err)
		}
	}
}

// BenchmarkParseDotFlood shows that the A4 body costs next to nothing.
func BenchmarkParseDotFlood(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(dotFlood); err == nil {
			b.Fatal("Parse accepted the dot flood")
		}
	}
}
