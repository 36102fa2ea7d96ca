package state

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/acmegate/acmegate/ca"
)

// crlLifetime is how long a CRL stays current (its nextUpdate). A
// revocation makes the next request regenerate it at once.
const crlLifetime = 24 * time.Hour

// crlRefresh is how often a CRL is signed again without a revocation.
const crlRefresh = time.Hour

type cachedCRL struct {
	der       []byte
	generated time.Time
	revoked   int
	latest    time.Time
}

// CRL returns the current CRL of the issuer (RFC 5280, Section 5), listing
// every revoked certificate that has not expired. It is signed again when a
// revocation happened since the last one (on any replica) or an hour has
// passed. The CRL number is the signing time in milliseconds, so it
// increases across replicas that share a clock.
func (e *Engine) CRL(ctx context.Context) ([]byte, time.Time, error) {
	now := e.clock.Now()
	issuerKeyID := hex.EncodeToString(e.issuer.KeyID())
	rows, err := e.store.Read(ctx).RevokedCertificates(issuerKeyID, now)
	if err != nil {
		return nil, time.Time{}, err
	}
	var latest time.Time
	for _, r := range rows {
		if r.RevokedAt != nil && r.RevokedAt.After(latest) {
			latest = *r.RevokedAt
		}
	}
	e.crlM.Lock()
	defer e.crlM.Unlock()
	if e.crl.der != nil && e.crl.revoked == len(rows) && e.crl.latest.Equal(latest) &&
		now.Sub(e.crl.generated) < crlRefresh {
		return e.crl.der, e.crl.generated, nil
	}
	entries := make([]ca.RevokedEntry, 0, len(rows))
	for _, r := range rows {
		serial, ok := new(big.Int).SetString(r.Serial, 16)
		if !ok || r.RevokedAt == nil {
			return nil, time.Time{}, fmt.Errorf("state: stored revocation %q is unreadable", r.Serial)
		}
		entries = append(entries, ca.RevokedEntry{Serial: serial, RevokedAt: *r.RevokedAt,
			Reason: r.RevocationReason})
	}
	number := big.NewInt(now.UnixMilli())
	der, err := e.issuer.CreateCRL(entries, number, now, now.Add(crlLifetime), e.rand)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("state: signing CRL: %w", err)
	}
	e.crl = cachedCRL{der: der, generated: now, revoked: len(rows), latest: latest}
	return der, now, nil
}
