package state

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

func accountFromModel(m *store.Account) (*Account, error) {
	var key jose.JSONWebKey
	if err := key.UnmarshalJSON([]byte(m.KeyJWK)); err != nil {
		return nil, fmt.Errorf("state: decoding key of account %s: %w", m.ID, err)
	}
	var contacts []string
	if m.Contacts != "" {
		if err := json.Unmarshal([]byte(m.Contacts), &contacts); err != nil {
			return nil, fmt.Errorf("state: decoding contacts of account %s: %w", m.ID, err)
		}
	}
	return &Account{
		ID:          m.ID,
		Key:         &key,
		Thumbprint:  m.KeyThumbprint,
		Status:      m.Status,
		Contacts:    contacts,
		TermsAgreed: m.TermsAgreed,
		EABKeyID:    m.EABKeyID,
		CreatedAt:   m.CreatedAt,
	}, nil
}

// orderFromModel converts a stored order; now decides whether a pending or
// ready order has expired (RFC 8555, Section 7.1.6).
func orderFromModel(m *store.Order, authzIDs []string, now time.Time) (*Order, error) {
	var ids []Identifier
	if err := json.Unmarshal([]byte(m.Identifiers), &ids); err != nil {
		return nil, fmt.Errorf("state: decoding identifiers of order %s: %w", m.ID, err)
	}
	o := &Order{
		ID:                m.ID,
		AccountID:         m.AccountID,
		Status:            m.Status,
		Expires:           m.Expires,
		NotBefore:         m.NotBefore,
		NotAfter:          m.NotAfter,
		Identifiers:       ids,
		Profile:           m.Profile,
		AuthzIDs:          authzIDs,
		CertificateSerial: m.CertificateSerial,
		Replaces:          m.Replaces,
		UpdatedAt:         m.UpdatedAt,
	}
	if m.Error != "" {
		var doc problem.Document
		if err := json.Unmarshal([]byte(m.Error), &doc); err == nil {
			o.Error = &doc
		}
	}
	if (o.Status == StatusPending || o.Status == StatusReady) && !now.Before(o.Expires) {
		o.Status = StatusInvalid
		o.Error = problem.New(problem.Malformed, "the order expired before it was finalized").
			ToDocument()
	}
	return o, nil
}

func authzFromModel(m *store.Authorization, chals []store.Challenge, now time.Time) *Authorization {
	a := &Authorization{
		ID:         m.ID,
		AccountID:  m.AccountID,
		Identifier: Identifier{Type: m.IdentifierType, Value: m.IdentifierValue},
		Wildcard:   m.Wildcard,
		Status:     m.Status,
		Expires:    m.Expires,
	}
	if (a.Status == StatusPending || a.Status == StatusValid) && !now.Before(a.Expires) {
		a.Status = StatusExpired
	}
	for i := range chals {
		a.Challenges = append(a.Challenges, challengeFromModel(&chals[i]))
	}
	return a
}

func challengeFromModel(m *store.Challenge) Challenge {
	c := Challenge{
		ID:          m.ID,
		AuthzID:     m.AuthzID,
		Type:        m.Type,
		Token:       m.Token,
		Status:      m.Status,
		ValidatedAt: m.ValidatedAt,
	}
	if m.Error != "" {
		var doc problem.Document
		if err := json.Unmarshal([]byte(m.Error), &doc); err == nil {
			c.Error = &doc
		}
	}
	return c
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only values built by this package are marshalled here; a failure
		// is a programming error.
		panic(fmt.Sprintf("state: marshalling %T: %v", v, err))
	}
	return string(b)
}
