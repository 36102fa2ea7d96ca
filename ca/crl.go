package ca

import (
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"time"
)

// CRL reason codes, RFC 5280, Section 5.3.1, limited to those that CA/B
// Forum Baseline Requirements, Section 7.2.2 allows on CRLs covering
// subscriber certificates. The other RFC 5280 codes (cACompromise,
// certificateHold, removeFromCRL, aACompromise) are refused.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonPrivilegeWithdrawn   = 9
)

// ValidReason reports whether code is one of the reason codes above, the
// ones [Issuer.CreateCRL] accepts. The ACME layer can use it to answer
// badRevocationReason (RFC 8555, Section 7.6).
func ValidReason(code int) bool {
	switch code {
	case ReasonUnspecified, ReasonKeyCompromise, ReasonAffiliationChanged,
		ReasonSuperseded, ReasonCessationOfOperation, ReasonPrivilegeWithdrawn:
		return true
	}
	return false
}

// RevokedEntry is one revoked certificate to list on a CRL.
type RevokedEntry struct {
	// Serial is the revoked certificate's serial number.
	Serial *big.Int
	// RevokedAt is the revocation time, to the second.
	RevokedAt time.Time
	// Reason is a reason code for which [ValidReason] holds.
	// ReasonUnspecified leaves the reasonCode entry extension out, as
	// RFC 5280, Section 5.3.1 asks.
	Reason int
}

// CreateCRL signs a CRL (RFC 5280, Section 5) with the intermediate, listing
// exactly entries, in order. number is the CRL number: non-negative, at most
// 20 octets, and increasing from one CRL to the next (the caller keeps
// it). nextUpdate must be after thisUpdate; both are encoded to the second.
// rand is passed to the signer (nil means crypto/rand.Reader). Invalid
// input yields an error wrapping [ErrBadCRL]; it returns the CRL's DER.
func (i *Issuer) CreateCRL(
	entries []RevokedEntry,
	number *big.Int,
	thisUpdate, nextUpdate time.Time,
	rand io.Reader,
) ([]byte, error) {
	if err := checkCRLParams(number, thisUpdate, nextUpdate); err != nil {
		return nil, fmt.Errorf("creating CRL: %w", err)
	}
	list, err := crlEntries(entries)
	if err != nil {
		return nil, fmt.Errorf("creating CRL %s: %w", number, err)
	}
	if rand == nil {
		rand = defaultRand()
	}
	tmpl := &x509.RevocationList{
		RevokedCertificateEntries: list,
		Number:                    new(big.Int).Set(number),
		ThisUpdate:                thisUpdate.Truncate(time.Second),
		NextUpdate:                nextUpdate.Truncate(time.Second),
	}
	der, err := x509.CreateRevocationList(rand, tmpl, i.Certificate, i.Signer)
	if err != nil {
		return nil, fmt.Errorf("signing CRL %s: %w", number, err)
	}
	return der, nil
}

// checkCRLParams checks the CRL number (RFC 5280, Section 5.2.3) and the
// update times.
func checkCRLParams(number *big.Int, thisUpdate, nextUpdate time.Time) error {
	if number == nil || number.Sign() < 0 || number.BitLen() > maxSerialBits {
		return fmt.Errorf("%w: CRL number must be non-negative and at most 20 octets",
			ErrBadCRL)
	}
	if thisUpdate.IsZero() {
		return fmt.Errorf("%w: thisUpdate not set", ErrBadCRL)
	}
	if !nextUpdate.Truncate(time.Second).After(thisUpdate.Truncate(time.Second)) {
		return fmt.Errorf("%w: nextUpdate must be after thisUpdate", ErrBadCRL)
	}
	return nil
}

// crlEntries converts and checks the entries: valid serials, no
// duplicates, a revocation time, and a known reason code.
func crlEntries(entries []RevokedEntry) ([]x509.RevocationListEntry, error) {
	seen := make(map[string]bool, len(entries))
	list := make([]x509.RevocationListEntry, 0, len(entries))
	for _, e := range entries {
		if err := checkSerial(e.Serial); err != nil {
			return nil, fmt.Errorf("%w: entry serial: %w", ErrBadCRL, err)
		}
		key := e.Serial.Text(16)
		if seen[key] {
			return nil, fmt.Errorf("%w: serial %s listed twice", ErrBadCRL, key)
		}
		seen[key] = true
		if e.RevokedAt.IsZero() {
			return nil, fmt.Errorf("%w: serial %s has no revocation time", ErrBadCRL, key)
		}
		if !ValidReason(e.Reason) {
			return nil, fmt.Errorf("%w: serial %s has reason code %d", ErrBadCRL, key, e.Reason)
		}
		list = append(list, x509.RevocationListEntry{
			SerialNumber:   new(big.Int).Set(e.Serial),
			RevocationTime: e.RevokedAt.Truncate(time.Second),
			ReasonCode:     e.Reason,
		})
	}
	return list, nil
}
