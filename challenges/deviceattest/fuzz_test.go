package deviceattest_test

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

// FuzzAttestation feeds arbitrary bytes as the CBOR attestation object of a
// challenge response (SECURITY-CATALOGUE E10). Whatever the input, Verify
// must not panic, must fail with a *challenges.Error of a client-facing
// kind whose detail is short printable ASCII, and may succeed only with a
// consistent result. Seeds include valid statements of every format, made
// with this run's test roots, so mutations reach the deep checks.
func FuzzAttestation(f *testing.F) {
	roots := newTestRoots(f)
	v := roots.validator(f)
	for _, seed := range fuzzSeeds(f, roots) {
		f.Add(seed)
	}
	values := []string{appleSerial, "12345678", tpmSerial}

	f.Fuzz(func(t *testing.T, raw []byte) {
		body := payload(t, raw)
		for _, value := range values {
			res, err := v.Verify(ctx, request(deviceattest.IdentifierPermanent, value, body))
			if err == nil {
				checkFuzzResult(t, res)
				continue
			}
			checkFuzzError(t, err)
		}
	})
}

func checkFuzzResult(t *testing.T, res *deviceattest.Result) {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(res.PublicKey)
	if err != nil || string(spki) != string(res.SPKI) || res.PermanentIdentifier == "" {
		t.Fatalf("got an inconsistent result %+v", res)
	}
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var ce *challenges.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got untyped error %v, want a *challenges.Error", err)
	}
	switch ce.Kind {
	case challenges.KindMalformed,
		deviceattest.KindBadAttestationStatement,
		challenges.KindRejectedIdentifier:
	default:
		t.Fatalf("got kind %q, want malformed, badAttestationStatement or rejectedIdentifier", ce.Kind)
	}
	if len(ce.Detail) == 0 || len(ce.Detail) > 400 {
		t.Fatalf("got a detail of %d bytes, want 1 to 400: %q", len(ce.Detail), ce.Detail)
	}
	for _, c := range []byte(ce.Detail) {
		if c < 0x20 || c > 0x7e {
			t.Fatalf("got byte %#x in detail %q, want printable ASCII", c, ce.Detail)
		}
	}
}

// fuzzSeeds returns valid attestation objects of each format, signed for
// this run's roots, and a few broken variants.
func fuzzSeeds(f *testing.F, roots *testRoots) [][]byte {
	f.Helper()
	key := newP256(f)
	apple := attObj(f, deviceattest.FormatApple, map[string]any{
		"x5c": roots.apple.Chain(appleLeaf(f, roots.apple, key.Public(), sum256(keyAuth))),
	})

	leaf := yubikeyLeaf(f, roots.step, key.Public(), mustASN1(f, yubikeySerial))
	step := attObj(f, deviceattest.FormatStep, map[string]any{
		"x5c": roots.step.Chain(leaf),
		"sig": mustCBOR(f, signKeyAuth(f, key, keyAuth)),
	})

	tpm := attObj(f, deviceattest.FormatTPM, newCraftedTPM(f, roots.tpm).statement(f))
	return [][]byte{apple, step, tpm, tpm[:len(tpm)/2], append(step[:len(step):len(step)], 0)}
}
