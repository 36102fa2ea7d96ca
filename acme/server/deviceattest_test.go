package server_test

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/acmetest"
	"github.com/acmegate/acmegate/ca/catest"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/challenges/deviceattest"
	"github.com/acmegate/acmegate/challenges/deviceattest/attesttest"
)

// The device serials that the tests' attestations name.
const (
	appleSerial = "C02XK0ABJG5J"
	yubiSerial  = 12345678
)

// deviceGateway is a gateway with a real device-attest-01 validator that
// trusts apple and step roots of its own, and a registered client.
type deviceGateway struct {
	gw          *acmetest.Gateway
	c           *acmetest.Client
	apple, step *attesttest.CA
}

func newDeviceGateway(t *testing.T) *deviceGateway {
	t.Helper()
	// The validator and the attestation certificates share the gateway's
	// clock epoch, so that the certificates are valid at validation time.
	now := func() time.Time { return acmetest.Epoch }
	d := &deviceGateway{
		apple: attesttest.NewCA(t, "Apple", now()),
		step:  attesttest.NewCA(t, "Yubico", now()),
	}
	v, err := deviceattest.New(deviceattest.Options{
		Roots:   deviceattest.Roots{Apple: d.apple.Pool, Step: d.step.Pool},
		Formats: []string{deviceattest.FormatApple, deviceattest.FormatStep},
		Now:     now,
	})
	if err != nil {
		t.Fatalf("deviceattest.New: %v", err)
	}
	d.gw = acmetest.New(t, acmetest.Options{
		Validators: map[string]challenges.Validator{deviceattest.Type: v},
	})
	d.c = d.gw.NewClient(t, jose.ES256)
	d.c.Register(t)
	return d
}

// deviceOrder creates an order for one permanent-identifier and returns
// the order URL, the order and its authorization.
func (d *deviceGateway) deviceOrder(t *testing.T, value string) (string, *acmetest.Order, *acmetest.Authz) {
	t.Helper()
	r := d.c.PostJSON(t, d.gw.URLFor("new-order"), map[string]any{
		"identifiers": []acmetest.Identifier{{Type: deviceattest.IdentifierPermanent, Value: value}},
	}).Want(t, http.StatusCreated)
	var o acmetest.Order
	r.JSON(t, &o)
	if len(o.Authorizations) != 1 {
		t.Fatalf("got %d authorizations, want 1", len(o.Authorizations))
	}
	return r.Location(), &o, d.c.FetchAuthz(t, o.Authorizations[0])
}

// keyAuth returns the key authorization of token for the client's account
// key (RFC 8555, Section 8.1; RFC 7638 thumbprint).
func (d *deviceGateway) keyAuth(t *testing.T, token string) string {
	t.Helper()
	tp, err := d.c.JWK().Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("computing the account key thumbprint: %v", err)
	}
	return challenges.KeyAuthorization(token, base64.RawURLEncoding.EncodeToString(tp))
}

// answer posts payload to the challenge and returns the challenge as the
// server answers.
func (d *deviceGateway) answer(t *testing.T, url string, payload []byte) *acmetest.Challenge {
	t.Helper()
	var ch acmetest.Challenge
	d.c.Post(t, url, payload).Want(t, http.StatusOK).JSON(t, &ch)
	return &ch
}

// onlyDeviceAttest returns the authorization's single challenge, failing
// unless it is device-attest-01 (draft-ietf-acme-device-attest-09,
// Section 5).
func onlyDeviceAttest(t *testing.T, a *acmetest.Authz) *acmetest.Challenge {
	t.Helper()
	var types []string
	for _, ch := range a.Challenges {
		types = append(types, ch.Type)
	}
	if !slices.Equal(types, []string{deviceattest.Type}) {
		t.Fatalf("got challenge types %q for %s, want only %s", types, a.Identifier.Value,
			deviceattest.Type)
	}
	return &a.Challenges[0]
}

// TestDeviceAttestIssue runs device-attest-01 end to end for each format:
// the order for a device offers only device-attest-01; a valid attestation
// validates it; finalize refuses a CSR for another key than the attested
// one with badCSR and certifies the attested key, naming the device in an
// RFC 4043 permanentIdentifier otherName.
func TestDeviceAttestIssue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		value string
		stmt  func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte
	}{
		{
			name:  "apple",
			value: appleSerial,
			stmt: func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte {
				return attesttest.AppleStatement(t, d.apple, appleSerial, keyAuth, key.Public())
			},
		},
		{
			name:  "step",
			value: "12345678",
			stmt: func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte {
				return attesttest.StepStatement(t, d.step, yubiSerial, keyAuth, key)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDeviceGateway(t)
			url, o, a := d.deviceOrder(t, tt.value)
			ch := onlyDeviceAttest(t, a)

			key := attesttest.NewP256(t)
			got := d.answer(t, ch.URL, tt.stmt(t, d, d.keyAuth(t, ch.Token), key))
			if got.Status != "valid" || got.Error != nil {
				t.Fatalf("got challenge status %q, error %+v, want valid", got.Status, got.Error)
			}
			if o = d.c.FetchOrder(t, url); o.Status != "ready" {
				t.Fatalf("got order status %q, want ready", o.Status)
			}

			other := acmetest.CSR(t, acmetest.NewKey(t, jose.ES256), nil, nil)
			wantProblem(t, d.c.Finalize(t, o, other), http.StatusBadRequest, "badCSR")

			r := d.c.Finalize(t, o, acmetest.CSR(t, key, nil, nil)).Want(t, http.StatusOK)
			var done acmetest.Order
			r.JSON(t, &done)
			if done.Status != "valid" || done.Certificate == "" {
				t.Fatalf("got order status %q and certificate %q, want valid with a URL",
					done.Status, done.Certificate)
			}
			cert := firstCert(t, d.c.PostAsGet(t, done.Certificate).Want(t, http.StatusOK).Body)
			checkDeviceCert(t, cert, key, tt.value)
		})
	}
}

// checkDeviceCert checks a device certificate: it certifies key, has an
// empty subject, and names the device only by a critical subjectAltName
// holding one permanentIdentifier otherName (RFC 4043, Section 2; RFC 5280,
// Section 4.2.1.6). It also lints the certificate.
func checkDeviceCert(t *testing.T, cert *x509.Certificate, key crypto.Signer, value string) {
	t.Helper()
	wantSPKI, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatalf("encoding the attested key: %v", err)
	}
	if string(cert.RawSubjectPublicKeyInfo) != string(wantSPKI) {
		t.Errorf("got a certificate for another key than the attested one")
	}
	if len(cert.Subject.Names) != 0 {
		t.Errorf("got subject %q, want an empty subject", cert.Subject)
	}
	if len(cert.DNSNames)+len(cert.IPAddresses)+len(cert.EmailAddresses)+len(cert.URIs) != 0 {
		t.Errorf("got SANs %q %q %q %q, want only the otherName", cert.DNSNames,
			cert.IPAddresses, cert.EmailAddresses, cert.URIs)
	}
	var ids []permanentIdentifier
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			continue
		}
		if !ext.Critical {
			t.Errorf("got a non-critical subjectAltName with an empty subject, want critical")
		}
		ids = permanentIdentifiers(t, ext.Value)
	}
	if len(ids) != 1 || ids[0].IdentifierValue != value || ids[0].Assigner != nil {
		t.Errorf("got permanent identifiers %+v, want one with value %q and no assigner", ids, value)
	}

	exclusions := catest.InternalCAExclusions()
	exclusions["e_ext_san_other_name_present"] = "the CA/B Forum Baseline Requirements, " +
		"Section 7.1.2.7.12, forbid otherName in publicly trusted TLS certificates; an " +
		"internal CA names a device by the RFC 4043 permanentIdentifier otherName, as " +
		"draft-ietf-acme-device-attest-09, Section 3.1, requires"
	catest.LintExcept(t, cert.Raw, exclusions)
}

// permanentIdentifier is the PermanentIdentifier of RFC 4043, Section 2.
type permanentIdentifier struct {
	IdentifierValue string                `asn1:"utf8,optional"`
	Assigner        asn1.ObjectIdentifier `asn1:"optional"`
}

// permanentIdentifiers decodes a subjectAltName extension value and returns
// its permanentIdentifier otherNames (id-on-permanentIdentifier,
// 1.3.6.1.5.5.7.8.3), failing on any other otherName.
func permanentIdentifiers(t *testing.T, der []byte) []permanentIdentifier {
	t.Helper()
	var names asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &names); err != nil || len(rest) > 0 {
		t.Fatalf("decoding subjectAltName: %v (%d trailing bytes)", err, len(rest))
	}
	var out []permanentIdentifier
	for rest := names.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			t.Fatalf("decoding a GeneralName: %v", err)
		}
		if gn.Class != asn1.ClassContextSpecific || gn.Tag != 0 {
			continue // not an otherName
		}
		// otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY },
		// tagged [0] IMPLICIT in GeneralName.
		var typeID asn1.ObjectIdentifier
		inner, err := asn1.Unmarshal(gn.Bytes, &typeID)
		if err != nil {
			t.Fatalf("decoding an otherName type: %v", err)
		}
		if !typeID.Equal(asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 3}) {
			t.Errorf("got otherName type %s, want id-on-permanentIdentifier", typeID)
			continue
		}
		var wrapped asn1.RawValue
		if _, err := asn1.Unmarshal(inner, &wrapped); err != nil ||
			wrapped.Class != asn1.ClassContextSpecific || wrapped.Tag != 0 {
			t.Fatalf("decoding the otherName value wrapper: %v", err)
		}
		var p permanentIdentifier
		if rest, err := asn1.Unmarshal(wrapped.Bytes, &p); err != nil || len(rest) > 0 {
			t.Fatalf("decoding a PermanentIdentifier: %v", err)
		}
		out = append(out, p)
	}
	return out
}

// TestDeviceAttestRefused checks attestations the validator refuses: the
// challenge, the authorization and the order become invalid, with the
// problem the validator reported.
func TestDeviceAttestRefused(t *testing.T) {
	t.Parallel()
	stranger := attesttest.NewCA(t, "Stranger", acmetest.Epoch)
	tests := []struct {
		name  string
		value string // the identifier ordered; default appleSerial
		stmt  func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte
		want  string
	}{
		{
			name: "untrusted root",
			stmt: func(t testing.TB, _ *deviceGateway, keyAuth string, key crypto.Signer) []byte {
				return attesttest.AppleStatement(t, stranger, appleSerial, keyAuth, key.Public())
			},
			want: "badAttestationStatement",
		},
		{
			name: "another device",
			stmt: func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte {
				return attesttest.AppleStatement(t, d.apple, "F17ZZ9ABCD12", keyAuth, key.Public())
			},
			want: "rejectedIdentifier",
		},
		{
			name: "another key authorization",
			stmt: func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte {
				return attesttest.AppleStatement(t, d.apple, appleSerial, keyAuth+"x", key.Public())
			},
			want: "badAttestationStatement",
		},
		{
			name:  "step signature of another key authorization",
			value: "87654321",
			stmt: func(t testing.TB, d *deviceGateway, keyAuth string, key crypto.Signer) []byte {
				return attesttest.StepStatement(t, d.step, 87654321, keyAuth+"x", key)
			},
			want: "badAttestationStatement",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := newDeviceGateway(t)
			value := tt.value
			if value == "" {
				value = appleSerial
			}
			url, o, a := d.deviceOrder(t, value)
			ch := onlyDeviceAttest(t, a)
			got := d.answer(t, ch.URL, tt.stmt(t, d, d.keyAuth(t, ch.Token), attesttest.NewP256(t)))
			if got.Status != "invalid" || got.Error == nil {
				t.Fatalf("got challenge status %q, error %+v, want invalid with an error",
					got.Status, got.Error)
			}
			if got.Error.Type != urn(tt.want) || got.Error.Detail == "" {
				t.Errorf("got error %+v, want type %s with a detail", got.Error, urn(tt.want))
			}
			if az := d.c.FetchAuthz(t, o.Authorizations[0]); az.Status != "invalid" {
				t.Errorf("got authorization status %q, want invalid", az.Status)
			}
			if o := d.c.FetchOrder(t, url); o.Status != "invalid" {
				t.Errorf("got order status %q, want invalid", o.Status)
			}
		})
	}
}

// TestDeviceAttestNotForDNS checks that a dns identifier is never offered
// device-attest-01, even with its validator configured.
func TestDeviceAttestNotForDNS(t *testing.T) {
	t.Parallel()
	d := newDeviceGateway(t)
	_, o := d.c.NewOrder(t, "host.corp.internal", "*.corp.internal")
	for _, u := range o.Authorizations {
		a := d.c.FetchAuthz(t, u)
		if len(a.Challenges) == 0 {
			t.Errorf("authorization for %s offers no challenge, want some", a.Identifier.Value)
		}
		for _, ch := range a.Challenges {
			if ch.Type == deviceattest.Type {
				t.Errorf("authorization for %s offers %s, want it only for devices",
					a.Identifier.Value, ch.Type)
			}
		}
	}
}

// TestHardwareModuleOrder checks that a hardware-module identifier
// (serial/type OID) is accepted and offered device-attest-01 only, and
// that a malformed one is refused.
func TestHardwareModuleOrder(t *testing.T) {
	t.Parallel()
	d := newDeviceGateway(t)
	r := d.c.PostJSON(t, d.gw.URLFor("new-order"), map[string]any{
		"identifiers": []acmetest.Identifier{{Type: deviceattest.IdentifierHardwareModule,
			Value: "HSM-42/1.3.6.1.4.1.99999.1"}},
	}).Want(t, http.StatusCreated)
	var o acmetest.Order
	r.JSON(t, &o)
	a := d.c.FetchAuthz(t, o.Authorizations[0])
	if len(a.Challenges) != 1 || a.Challenges[0].Type != deviceattest.Type {
		t.Fatalf("got challenges %+v, want only %s", a.Challenges, deviceattest.Type)
	}
	r = d.c.PostJSON(t, d.gw.URLFor("new-order"), map[string]any{
		"identifiers": []acmetest.Identifier{{Type: deviceattest.IdentifierHardwareModule,
			Value: "no-type-oid"}},
	}).Want(t, http.StatusBadRequest)
	if doc := r.Problem(t); doc.Type != "urn:ietf:params:acme:error:malformed" {
		t.Fatalf("got %s, want malformed", doc.Type)
	}
}
