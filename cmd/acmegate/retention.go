package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// retentionPeriod is how often expired rows are purged.
const retentionPeriod = time.Hour

// retention purges, every hour, orders that never led to a certificate and
// unused authorizations once they are older than acme.order_retention,
// and certificates expired longer than acme.certificate_retention (zero
// keeps them forever). Each purge writes one audit event with the counts.
// Only the replica holding the retention lease l purges.
func retention(ctx context.Context, st *store.Store, l *lease, cfg Config, log *slog.Logger) {
	tick := time.NewTicker(retentionPeriod)
	defer tick.Stop()
	for {
		if l.claim(ctx) {
			purgeOnce(ctx, st, cfg, log)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func purgeOnce(ctx context.Context, st *store.Store, cfg Config, log *slog.Logger) {
	now := time.Now().UTC()
	orderCutoff := now.Add(-time.Duration(cfg.ACME.OrderRetention))
	var certCutoff time.Time
	if cfg.ACME.CertificateRetention > 0 {
		certCutoff = now.Add(-time.Duration(cfg.ACME.CertificateRetention))
	}
	err := st.Transact(ctx, func(tx *store.Tx) error {
		n, err := tx.PurgeExpired(orderCutoff, certCutoff)
		if err != nil || n == (store.PurgeCounts{}) {
			return err
		}
		log.Info("purged expired rows", "orders", n.Orders, "authorizations", n.Authorizations,
			"certificates", n.Certificates, "expiry_notices", n.ExpiryNotices)
		return tx.Audit(store.Event{Type: state.EventRetentionPurged, Actor: "system",
			Subject: "retention", Outcome: state.OutcomeSuccess, Data: n})
	})
	if err != nil && ctx.Err() == nil {
		log.Error("purging expired rows failed", "error", err)
	}
}
