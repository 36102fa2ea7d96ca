package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/store"
)

// Payload is the JSON body of a delivery.
type Payload struct {
	// ID identifies the event across retries and replicas: the audit
	// sequence number and the start of the audit event's hash.
	ID   string `json:"id"`
	Type string `json:"type"`
	// Time is when the audit event was recorded.
	Time     time.Time `json:"time"`
	AuditSeq int64     `json:"audit_seq"`
	// Actor is who caused the event: an account ID, "operator:<label>",
	// "operator" (the command line) or "system".
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// Certificate is set for certificate events, Challenge for
	// challenge.invalid.
	Certificate *Certificate `json:"certificate,omitempty"`
	Challenge   *Challenge   `json:"challenge,omitempty"`
}

// Certificate describes the certificate of a certificate event.
type Certificate struct {
	Serial    string    `json:"serial"`
	Names     []string  `json:"names"`
	AccountID string    `json:"account_id"`
	OrderID   string    `json:"order_id,omitempty"`
	Profile   string    `json:"profile"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Replaces is the ARI identifier of the certificate this one renews.
	Replaces string `json:"replaces,omitempty"`
	// RevocationReason is the RFC 5280 reason code of a revocation.
	RevocationReason *int `json:"revocation_reason,omitempty"`
}

// Challenge describes the failed challenge of a challenge.invalid event.
type Challenge struct {
	ID              string `json:"id"`
	Type            string `json:"type"`
	Identifier      string `json:"identifier"`
	AuthorizationID string `json:"authorization_id"`
	AccountID       string `json:"account_id"`
	// Problem is the ACME error type, Detail its text.
	Problem string `json:"problem"`
	Detail  string `json:"detail"`
}

// auditData holds the fields of the audit events' data this package reads.
type auditData struct {
	OrderID    string    `json:"order_id"`
	Names      []string  `json:"names"`
	Profile    string    `json:"profile"`
	NotBefore  time.Time `json:"not_before"`
	NotAfter   time.Time `json:"not_after"`
	Replaces   string    `json:"replaces"`
	Reason     *int      `json:"reason"`
	AccountID  string    `json:"account_id"`
	Type       string    `json:"type"`
	Identifier string    `json:"identifier"`
	AuthzID    string    `json:"authz_id"`
	Problem    string    `json:"problem"`
}

// payloadFor turns an audit event into a payload; false means the event
// is not one endpoints are told about.
func payloadFor(ctx context.Context, st *store.Store, ev *store.AuditEvent) (*Payload, bool,
	error) {
	var d auditData
	if ev.Data != "" {
		// Data written by other versions may not fit: what does not
		// decode is left empty rather than stopping delivery.
		_ = json.Unmarshal([]byte(ev.Data), &d)
	}
	p := &Payload{ID: eventID(ev), Time: ev.Time.UTC(), AuditSeq: ev.Seq, Actor: ev.Actor,
		Reason: ev.Reason}
	switch ev.Type {
	case state.EventCertificateIssued, state.EventCertificateRevoked, EventCertificateExpiring:
		cert, err := certificateFor(ctx, st, ev, d)
		if err != nil {
			return nil, false, err
		}
		p.Type, p.Certificate = certificateEventType(ev.Type, cert), cert
	case state.EventChallengeInvalid:
		p.Type = EventChallengeInvalid
		p.Challenge = &Challenge{ID: strings.TrimPrefix(ev.Subject, "challenge:"), Type: d.Type,
			Identifier: d.Identifier, AuthorizationID: d.AuthzID, AccountID: ev.Actor,
			Problem: d.Problem, Detail: ev.Reason}
	default:
		return nil, false, nil
	}
	return p, true, nil
}

func certificateEventType(auditType string, c *Certificate) string {
	switch {
	case auditType == state.EventCertificateRevoked:
		return EventCertificateRevoked
	case auditType == EventCertificateExpiring:
		return EventCertificateExpiring
	case c.Replaces != "":
		return EventCertificateRenewed
	}
	return EventCertificateIssued
}

// certificateFor describes the event's certificate from the store, or
// from the audit data when retention has deleted it.
func certificateFor(ctx context.Context, st *store.Store, ev *store.AuditEvent,
	d auditData) (*Certificate, error) {
	serial := strings.TrimPrefix(ev.Subject, "certificate:")
	c := &Certificate{Serial: serial, Names: d.Names, AccountID: d.AccountID,
		OrderID: d.OrderID, Profile: d.Profile, NotBefore: d.NotBefore, NotAfter: d.NotAfter,
		Replaces: d.Replaces}
	if ev.Type == state.EventCertificateIssued {
		c.AccountID = ev.Actor
	}
	if ev.Type == state.EventCertificateRevoked {
		c.RevocationReason = d.Reason
	}
	row, err := st.Read(ctx).Certificate(serial)
	if errors.Is(err, store.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	c.Names = strings.Split(row.Names, ",")
	c.AccountID, c.OrderID, c.Profile = row.AccountID, row.OrderID, row.Profile
	c.NotBefore, c.NotAfter = row.NotBefore.UTC(), row.NotAfter.UTC()
	if c.Replaces == "" {
		c.Replaces = row.Replaces
	}
	return c, nil
}

// eventID is stable for an audit event and differs between databases that
// happen to reuse a sequence number.
func eventID(ev *store.AuditEvent) string {
	h := ev.Hash
	if len(h) > 16 {
		h = h[:16]
	}
	return fmt.Sprintf("%d-%s", ev.Seq, h)
}
