package ca

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/acmegate/acmegate/ca/catest"
)

func TestCreateCRL(t *testing.T) {
	t.Parallel()
	i := sharedPKI.issuer
	entries := []RevokedEntry{
		{Serial: newSerial(t), RevokedAt: testNow.Add(-2 * time.Hour), Reason: ReasonKeyCompromise},
		{Serial: newSerial(t), RevokedAt: testNow.Add(-time.Hour + 300*time.Millisecond)},
		{Serial: big.NewInt(12345), RevokedAt: testNow, Reason: ReasonSuperseded},
	}
	number := big.NewInt(7)
	der, err := i.CreateCRL(entries, number, testNow, testNow.Add(24*time.Hour), rand.Reader)
	if err != nil {
		t.Fatalf("CreateCRL: %v", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	if err := crl.CheckSignatureFrom(i.Certificate); err != nil {
		t.Errorf("CheckSignatureFrom(intermediate): got %v, want nil", err)
	}
	if err := crl.CheckSignatureFrom(i.Root); err == nil {
		t.Errorf("CheckSignatureFrom(root): got nil, want an error")
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"number", crl.Number.Cmp(number), 0},
		{"thisUpdate", crl.ThisUpdate, testNow},
		{"nextUpdate", crl.NextUpdate, testNow.Add(24 * time.Hour)},
		{"issuer", crl.Issuer.String(), i.Certificate.Subject.String()},
		{"AKI", string(crl.AuthorityKeyId), string(i.KeyID())},
		{"entry count", len(crl.RevokedCertificateEntries), len(entries)},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !equalish(c.got, c.want) {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
	for n, got := range crl.RevokedCertificateEntries {
		if n >= len(entries) {
			break
		}
		want := entries[n]
		if got.SerialNumber.Cmp(want.Serial) != 0 {
			t.Errorf("entry %d serial: got %x, want %x", n, got.SerialNumber, want.Serial)
		}
		if !got.RevocationTime.Equal(want.RevokedAt.Truncate(time.Second)) {
			t.Errorf("entry %d time: got %v, want %v", n, got.RevocationTime, want.RevokedAt)
		}
		if got.ReasonCode != want.Reason {
			t.Errorf("entry %d reason: got %d, want %d", n, got.ReasonCode, want.Reason)
		}
	}
	catest.LintCRL(t, der)
	catest.LintExcept(t, i.Certificate.Raw, offlineRootExclusions())
}

func TestCreateCRLEmpty(t *testing.T) {
	t.Parallel()
	der, err := sharedPKI.issuer.CreateCRL(nil, big.NewInt(0), testNow,
		testNow.Add(time.Hour), nil)
	if err != nil {
		t.Fatalf("CreateCRL: %v", err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("ParseRevocationList: %v", err)
	}
	if n := len(crl.RevokedCertificateEntries); n != 0 {
		t.Errorf("entries: got %d, want 0", n)
	}
	catest.LintCRL(t, der)
}

func TestCreateCRLErrors(t *testing.T) {
	t.Parallel()
	dup := big.NewInt(99)
	tests := []struct {
		name       string
		entries    []RevokedEntry
		number     *big.Int
		thisUpdate time.Time
		nextUpdate time.Time
	}{
		{"nil number", nil, nil, testNow, testNow.Add(time.Hour)},
		{"negative number", nil, big.NewInt(-1), testNow, testNow.Add(time.Hour)},
		{"21-octet number", nil, new(big.Int).Lsh(big.NewInt(1), 160), testNow,
			testNow.Add(time.Hour)},
		{"no thisUpdate", nil, big.NewInt(1), time.Time{}, testNow},
		{"nextUpdate equal", nil, big.NewInt(1), testNow, testNow.Add(time.Millisecond)},
		{"nextUpdate before", nil, big.NewInt(1), testNow, testNow.Add(-time.Hour)},
		{"zero serial", []RevokedEntry{{Serial: big.NewInt(0), RevokedAt: testNow}},
			big.NewInt(1), testNow, testNow.Add(time.Hour)},
		{"duplicate serial", []RevokedEntry{{Serial: dup, RevokedAt: testNow},
			{Serial: dup, RevokedAt: testNow}}, big.NewInt(1), testNow, testNow.Add(time.Hour)},
		{"no revocation time", []RevokedEntry{{Serial: big.NewInt(5)}}, big.NewInt(1),
			testNow, testNow.Add(time.Hour)},
		{"certificateHold", []RevokedEntry{{Serial: big.NewInt(5), RevokedAt: testNow,
			Reason: 6}}, big.NewInt(1), testNow, testNow.Add(time.Hour)},
		{"unused code 7", []RevokedEntry{{Serial: big.NewInt(5), RevokedAt: testNow,
			Reason: 7}}, big.NewInt(1), testNow, testNow.Add(time.Hour)},
		{"code 11", []RevokedEntry{{Serial: big.NewInt(5), RevokedAt: testNow,
			Reason: 11}}, big.NewInt(1), testNow, testNow.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := sharedPKI.issuer.CreateCRL(tt.entries, tt.number, tt.thisUpdate,
				tt.nextUpdate, rand.Reader)
			if !errors.Is(err, ErrBadCRL) {
				t.Errorf("CreateCRL: got %v, want %v", err, ErrBadCRL)
			}
		})
	}
}

func TestValidReason(t *testing.T) {
	t.Parallel()
	for code := -1; code <= 11; code++ {
		want := code == 0 || code == 1 || code == 3 || code == 4 || code == 5 || code == 9
		if got := ValidReason(code); got != want {
			t.Errorf("ValidReason(%d): got %v, want %v", code, got, want)
		}
	}
}
