package state

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
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

// CRLKeyIDPlaceholder, in a profile's CRL distribution point URL, is
// replaced by the signing issuer's key ID in hex at issuance. A URL such as
// http://host/acme/crl/{key_id} then names the CRL of each certificate's
// own intermediate, which matters once an intermediate is rotated: the
// plain /acme/crl serves the active issuer's CRL only.
const CRLKeyIDPlaceholder = "{key_id}"

// crlURLFor returns url with [CRLKeyIDPlaceholder] replaced by keyID.
func crlURLFor(url, keyID string) string {
	return strings.ReplaceAll(url, CRLKeyIDPlaceholder, keyID)
}

// CRL returns the current CRL of the active issuer; see [Engine.IssuerCRL].
func (e *Engine) CRL(ctx context.Context) ([]byte, time.Time, error) {
	return e.IssuerCRL(ctx, e.issuers.ActiveKeyID())
}

// IssuerCRL returns the current CRL (RFC 5280, Section 5) of the issuer
// whose key ID is keyID in hex, active or not, listing every certificate
// it issued that is revoked and not expired. A key ID that names no
// configured issuer is a notFound problem.
//
// Each issuer's CRL is signed again when a revocation happened since its
// last one (on any replica) or an hour has passed. The CRL number is the
// signing time in milliseconds, so it increases across replicas that
// share a clock.
func (e *Engine) IssuerCRL(ctx context.Context, keyID string) ([]byte, time.Time, error) {
	issuer, ok := e.issuers.ByKeyID(keyID)
	if !ok {
		return nil, time.Time{}, notFound("CRL")
	}
	keyID = hex.EncodeToString(issuer.KeyID())
	now := e.clock.Now()
	rows, err := e.store.Read(ctx).RevokedCertificates(keyID, now)
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
	cached := e.crls[keyID]
	if cached.der != nil && cached.revoked == len(rows) && cached.latest.Equal(latest) &&
		now.Sub(cached.generated) < crlRefresh {
		return cached.der, cached.generated, nil
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
	der, err := issuer.CreateCRL(entries, number, now, now.Add(crlLifetime), e.rand)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("state: signing CRL of issuer %s: %w", keyID, err)
	}
	e.crls[keyID] = cachedCRL{der: der, generated: now, revoked: len(rows), latest: latest}
	return der, now, nil
}
