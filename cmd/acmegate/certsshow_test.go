package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acmegate/acmegate/store"
)

// testLeaf returns a self-signed certificate with the serial and validity.
func testLeaf(t *testing.T, serial int64, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "app"},
		DNSNames: []string{"app.corp.internal"}, NotBefore: notBefore, NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCertsShow(t *testing.T) {
	db := "sqlite://" + filepath.Join(t.TempDir(), "acmegate.db")
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{URL: db})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	aki := []byte{0xaa, 0xbb}
	certID := func(serial int64) string {
		return base64.RawURLEncoding.EncodeToString(aki) + "." +
			base64.RawURLEncoding.EncodeToString(big.NewInt(serial).Bytes())
	}
	hexSerial := func(serial int64) string { return hex.EncodeToString(big.NewInt(serial).Bytes()) }
	now := time.Now().UTC().Truncate(time.Second)
	validated := now.Add(-time.Hour)
	err = st.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.CreateAccount(&store.Account{ID: "acct-1", KeyThumbprint: "thumb",
			KeyJWK: `{"kty":"EC"}`, Status: "valid",
			Contacts: `["mailto:ops@corp.internal"]`}); err != nil {
			return err
		}
		if err := tx.CreateAuthorization(&store.Authorization{ID: "authz-1", AccountID: "acct-1",
			IdentifierType: "dns", IdentifierValue: "app.corp.internal", Status: "valid",
			Expires: now.Add(time.Hour)}, []store.Challenge{
			{ID: "chal-1", Type: "http-01", Token: "t1", Status: "valid", ValidatedAt: &validated},
			{ID: "chal-2", Type: "dns-01", Token: "t2", Status: "pending", Position: 1},
		}); err != nil {
			return err
		}
		for i, id := range []string{"order-1", "order-2", "order-3"} {
			if err := tx.CreateOrder(&store.Order{ID: id, AccountID: "acct-1", Status: "valid",
				Expires:     now.Add(time.Hour),
				Identifiers: `[{"type":"dns","value":"app.corp.internal"}]`},
				[]string{"authz-1"}); err != nil {
				return err
			}
			serial := int64(0x0a01 + i)
			replaces := ""
			if i > 0 {
				replaces = certID(serial - 1)
			}
			notBefore := now.Add(time.Duration(i-2) * 24 * time.Hour)
			if err := tx.CreateCertificate(&store.Certificate{Serial: hexSerial(serial), OrderID: id,
				AccountID: "acct-1", IssuerKeyID: hex.EncodeToString(aki),
				DER:   testLeaf(t, serial, notBefore, notBefore.Add(36*time.Hour)),
				Names: "app.corp.internal", Profile: "default", NotBefore: notBefore,
				NotAfter: notBefore.Add(36 * time.Hour), Status: "valid", Replaces: replaces}); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatalf("scripting the store: %v", err)
	}

	cmd := certsCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&bytes.Buffer{})
	cmd.SetArgs([]string{"--db", db, "--data", filepath.Dir(strings.TrimPrefix(db, "sqlite://")),
		"show", hexSerial(0x0a02)})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatalf("certs show: %v", err)
	}
	got := out.String()
	for _, want := range []string{
		"id:           order-2",
		"identifiers:  dns:app.corp.internal",
		"dns:app.corp.internal  authorization authz-1 valid",
		"http-01          valid      validated " + validated.Format(time.RFC3339),
		"dns-01           pending    validated -",
		"contacts:  mailto:ops@corp.internal",
		"-----BEGIN CERTIFICATE-----",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("certs show: output lacks %q:\n%s", want, got)
		}
	}
	// The lineage lists the replaced certificate, this one and its renewal,
	// oldest first; the first has expired.
	_, lineage, _ := strings.Cut(got, "lineage:\n")
	lines := strings.Split(lineage, "\n")
	if len(lines) < 3 ||
		!strings.HasPrefix(lines[0], "  0a01 ") || !strings.HasSuffix(lines[0], "expired") ||
		!strings.HasPrefix(lines[1], "  0a02 ") || !strings.Contains(lines[1], "(this certificate)") ||
		!strings.HasPrefix(lines[2], "  0a03 ") || !strings.HasSuffix(lines[2], "valid") {
		t.Errorf("certs show: got lineage\n%s\nwant 0a01 (expired), 0a02 (this), 0a03 (valid)", lineage)
	}
}
