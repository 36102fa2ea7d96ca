package state

import (
	"context"
	"errors"
	"strings"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

// RevokeByOperator revokes the certificate with the given hex serial on an
// operator's authority, without the proof of control that [Engine.Revoke]
// asks of subscribers. actor names the operator credential in the audit
// event (for example "operator:alice"); comment, when not empty, is its
// reason text.
//
// The reason must be one subscribers may give (RFC 5280, Section 5.3.1);
// keyCompromise also blocks the key and revokes its other certificates, as
// for a subscriber. Errors are problems: notFound for an unknown serial,
// alreadyRevoked, badRevocationReason; store failures stay untyped.
func (e *Engine) RevokeByOperator(ctx context.Context, serial string, reason int,
	actor, comment string) error {
	if !allowedReasons[reason] {
		return problem.New(problem.BadRevocationReason,
			"reason %d is not allowed; use 0, 1, 3, 4, 5 or 9", reason)
	}
	serial = strings.ToLower(serial)
	row, err := e.store.Read(ctx).Certificate(serial)
	if err != nil {
		return storeErr(err, "certificate")
	}
	now := e.clock.Now().UTC()
	return e.store.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeCertificate(serial, reason, now); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return problem.New(problem.AlreadyRevoked, "the certificate is already revoked")
			}
			return err
		}
		err := tx.Audit(store.Event{Type: EventCertificateRevoked, Actor: actor,
			Subject: "certificate:" + serial, Outcome: OutcomeSuccess, Reason: comment,
			Data: map[string]any{"reason": reason, "account_id": row.AccountID}})
		if err != nil || reason != reasonKeyCompromise {
			return err
		}
		return e.blockCompromisedKey(tx, row.KeyHash, serial, now)
	})
}
