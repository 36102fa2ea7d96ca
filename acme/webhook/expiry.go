package webhook

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// scanPages bounds the pages of one expiry scan; what is left waits for
// the next scan.
const scanPages = 10

// scanExpiring reports each valid certificate that expires within the
// window after now without a successor ([store.Tx.ExpiringWithoutRenewal]):
// an [store.ExpiryNotice] and a certificate.expiring audit event in one
// transaction, once per certificate. It returns how many it reported.
func (d *Dispatcher) scanExpiring(ctx context.Context, now time.Time) (int, error) {
	const pageSize = 500
	reported := 0
	for range scanPages {
		certs, err := d.store.Read(ctx).ExpiringWithoutRenewal(now, now.Add(d.expiringWithin),
			pageSize)
		if err != nil {
			return reported, err
		}
		for i := range certs {
			err := d.reportExpiring(ctx, &certs[i])
			if errors.Is(err, store.ErrConflict) {
				continue // another replica reported it first
			}
			if err != nil {
				return reported, err
			}
			reported++
		}
		if len(certs) < pageSize {
			break
		}
	}
	return reported, nil
}

func (d *Dispatcher) reportExpiring(ctx context.Context, c *store.Certificate) error {
	return d.store.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.RecordExpiryNotice(c.Serial, c.NotAfter); err != nil {
			return err
		}
		err := tx.Audit(store.Event{Type: EventCertificateExpiring, Actor: "system",
			Subject: "certificate:" + c.Serial, Outcome: state.OutcomeSuccess,
			Reason: fmt.Sprintf("expires at %s and no renewal was issued",
				c.NotAfter.UTC().Format(time.RFC3339)),
			Data: map[string]any{"account_id": c.AccountID, "names": strings.Split(c.Names, ","),
				"profile": c.Profile, "not_before": c.NotBefore.UTC(),
				"not_after": c.NotAfter.UTC()}})
		if err != nil {
			return fmt.Errorf("webhook: reporting %s as expiring: %w", c.Serial, err)
		}
		return nil
	})
}
