package deviceattest_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/challtest"
	"github.com/acmegate/acmegate/challenges/deviceattest"
)

func TestNew(t *testing.T) {
	t.Parallel()
	pool := x509.NewCertPool()
	all := deviceattest.Roots{Apple: pool, TPM: pool, Step: pool}
	tpmOnly := deviceattest.Roots{TPM: pool}
	tests := []struct {
		name    string
		roots   deviceattest.Roots
		formats []string
		wantErr string
	}{
		{"all formats", all, []string{"apple", "tpm", "step"}, ""},
		{"one format", tpmOnly, []string{"tpm"}, ""},
		{"no format", all, nil, "no attestation format enabled"},
		{"unknown format", all, []string{"packed"}, `unknown attestation format "packed"`},
		{"format twice", all, []string{"tpm", "tpm"}, `"tpm" listed twice`},
		{"no roots", tpmOnly, []string{"apple"}, `"apple" has no roots`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := deviceattest.New(deviceattest.Options{Roots: tt.roots, Formats: tt.formats})
			if tt.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("got %v, %v, want a validator", v, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestPayload covers the challenge response framing and SECURITY-CATALOGUE
// E10: malformed input of every kind is a typed error, never a panic or an
// internal error.
func TestPayload(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v := roots.validator(t, deviceattest.FormatTPM, deviceattest.FormatStep)
	stmt := map[string]any{"x5c": [][]byte{{1}}}
	huge := `{"attObj":"` + strings.Repeat("A", deviceattest.MaxPayloadSize) + `"}`

	const (
		bad = deviceattest.KindBadAttestationStatement
		mal = challenges.KindMalformed
	)
	cb := func(raw []byte) string { return bodyOf(t, raw) }
	deep := append([]byte("\xa2\x63fmt\x63tpm\x67attStmt"), deepArray(10)...)

	tests := []struct {
		name       string
		body       string
		wantKind   string
		wantDetail string
	}{
		{"empty", ``, mal, "not a JSON object"},
		{"empty object", `{}`, mal, "attObj is missing"},
		{"array", `[]`, mal, "not a JSON object"},
		{"truncated JSON", `{"attObj":`, mal, "not a JSON object"},
		{"trailing data", `{"attObj":"oA"} {}`, mal, "data after the JSON object"},
		{"number", `{"attObj":5}`, mal, "attObj is not a string"},
		{"null", `{"attObj":null}`, mal, "attObj is not a string"},
		{"twice", `{"attObj":"oA","attObj":"oA"}`, mal, "attObj appears twice"},
		{"other case only", `{"AttObj":"oA"}`, mal, "attObj is missing"},
		{"over the limit", huge, mal, "exceeds the limit"},
		{"empty string", `{"attObj":""}`, bad, "attObj is empty"},
		{"standard base64", `{"attObj":"o+/="}`, bad, "not base64url"},
		{"padded base64url", `{"attObj":"oA=="}`, bad, "not base64url"},
		{"CBOR not a map", cb([]byte{0x01}), bad, "wrong type"},
		{"CBOR empty map", cb([]byte{0xa0}), bad, "no fmt"},
		{"CBOR truncated", cb(attObj(t, "tpm", stmt)[:10]), bad, "truncated"},
		{"CBOR trailing data", cb(append(attObj(t, "tpm", stmt), 0)), bad, "data after the object"},
		{"CBOR duplicate fmt", cb([]byte("\xa2\x63fmt\x63tpm\x63fmt\x63tpm")), bad, "duplicate map key"},
		{"CBOR indefinite length", cb([]byte("\xbf\x63fmt\x63tpm\xff")), bad, "not a valid CBOR"},
		{"CBOR tag", cb([]byte("\xa1\x63fmt\xc0\x63tpm")), bad, "not a valid CBOR"},
		{"CBOR nested too deep", cb(deep), bad, "not a valid CBOR"},
		{"fmt not a string", cb([]byte("\xa1\x63fmt\x01")), bad, "wrong type"},
		{"no attStmt", cb([]byte("\xa1\x63fmt\x63tpm")), bad, "no attStmt"},
		{"attStmt not a map", cb(attObj(t, "tpm", 7)), bad, "tpm: attStmt is malformed"},
		{"unknown format", cb(attObj(t, "packed", stmt)), bad, `unsupported attestation format "packed"`},
		{"disabled format", cb(attObj(t, "apple", stmt)), bad, `format "apple" is not enabled`},
		{"format in another case", cb(attObj(t, "TPM", stmt)), bad, "unsupported attestation format"},
		{"x5c missing", cb(attObj(t, "step", map[string]any{})), bad, "x5c is missing"},
		{"tpm with nothing", cb(attObj(t, "tpm", map[string]any{})), bad, `ver must be "2.0"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(deviceattest.IdentifierPermanent, "12345678", []byte(tt.body))
			_, err := v.Verify(ctx, req)
			challtest.WantError(t, err, tt.wantKind, tt.wantDetail)
		})
	}
}

// bodyOf wraps CBOR bytes in a challenge response payload.
func bodyOf(t testing.TB, raw []byte) string {
	t.Helper()
	return string(payload(t, raw))
}

// deepArray returns n nested one-element CBOR arrays around 0.
func deepArray(n int) []byte {
	b := make([]byte, 0, n+1)
	for range n {
		b = append(b, 0x81)
	}
	return append(b, 0x00)
}

// TestRequest covers what the state machine hands over: identifier types
// and syntax, token and key authorization.
func TestRequest(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	v := roots.validator(t)
	body := payload(t, attObj(t, "step", map[string]any{}))
	type edit = func(r *challenges.Request)
	setID := func(typ, value string) edit {
		return func(r *challenges.Request) { r.Identifier.Type, r.Identifier.Value = typ, value }
	}
	setToken := func(token, keyAuth string) edit {
		return func(r *challenges.Request) { r.Token, r.KeyAuthorization = token, keyAuth }
	}
	perm, hw := deviceattest.IdentifierPermanent, deviceattest.IdentifierHardwareModule
	tests := []struct {
		name       string
		edit       edit
		wantDetail string
	}{
		{"dns identifier", setID("dns", "a.test"), `identifier type "dns" cannot use`},
		{"empty value", setID(perm, ""), "device part is empty"},
		{"bad assigner", setID(perm, "A/3.1"), "not a dotted-decimal OID"},
		{"hardware-module without type", setID(hw, "ABCD"), "hardware type OID is missing"},
		{"empty token", setToken("", keyAuth), "does not belong to the challenge token"},
		{"token not base64url", setToken("a+b", "a+b."+thumbprint), "does not belong"},
		{"key authorization of another token", setToken(token, otherKeyAuth), "does not belong"},
		{"thumbprint missing", setToken(token, token+"."), "does not belong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := request(deviceattest.IdentifierPermanent, "12345678", body)
			tt.edit(&req)
			_, err := v.Verify(ctx, req)
			challtest.WantError(t, err, challenges.KindMalformed, tt.wantDetail)
		})
	}
}

func TestVerifyCanceled(t *testing.T) {
	t.Parallel()
	v := newTestRoots(t).validator(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err := v.Verify(cctx, request(deviceattest.IdentifierPermanent, "1", nil))
	var ce *challenges.Error
	if !errors.Is(err, context.Canceled) || errors.As(err, &ce) {
		t.Fatalf("got %v, want an internal error wrapping context.Canceled", err)
	}
}

// TestValidateRecord checks the record the state machine keeps: the
// attested key's digest first, matching KeyAnswer of the same key and of
// no other.
func TestValidateRecord(t *testing.T) {
	t.Parallel()
	roots := newTestRoots(t)
	clock := now
	v, err := deviceattest.New(deviceattest.Options{
		Roots:   deviceattest.Roots{Step: roots.step.Pool},
		Formats: []string{deviceattest.FormatStep},
		Now: func() time.Time {
			clock = clock.Add(time.Second)
			return clock
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	key := newP256(t)
	leaf := yubikeyLeaf(t, roots.step, key.Public(), mustASN1(t, yubikeySerial))
	body := stepPayload(t, roots.step.Chain(leaf), signKeyAuth(t, key, keyAuth))

	rec, err := v.Validate(ctx, request(deviceattest.IdentifierPermanent, "12345678", body))
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	want, err := deviceattest.KeyAnswer(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Answers) != 2 || rec.Answers[0] != want || rec.Answers[1] != "format:step" {
		t.Errorf("got answers %q, want [%q \"format:step\"]", rec.Answers, want)
	}
	hexDigits, ok := strings.CutPrefix(want, deviceattest.AnswerPrefix)
	if !ok || len(hexDigits) != 64 {
		t.Errorf("got answer %q, want %s and 64 hex digits", want, deviceattest.AnswerPrefix)
	}
	if other, _ := deviceattest.KeyAnswer(newP256(t).Public()); other == want {
		t.Errorf("another key got the same answer %q", other)
	}
	started := now.Add(time.Second)
	if rec.Type != deviceattest.Type || rec.Duration != time.Second || !rec.Started.Equal(started) {
		t.Errorf("got record type %q, started %v, duration %v; want %q, %v, 1s",
			rec.Type, rec.Started, rec.Duration, deviceattest.Type, started)
	}

	rec, err = v.Validate(ctx, request(deviceattest.IdentifierPermanent, "1", body))
	challtest.WantError(t, err, challenges.KindRejectedIdentifier, "does not name the device")
	if rec.Type != deviceattest.Type || len(rec.Answers) != 0 {
		t.Errorf("got record %+v after a failure, want the type and no answers", rec)
	}
}

func TestKeyAnswerUnsupportedKey(t *testing.T) {
	t.Parallel()
	if _, err := deviceattest.KeyAnswer("not a key"); err == nil {
		t.Fatal("got no error for a string key, want one")
	}
}
