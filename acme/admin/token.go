package admin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/acmegate/acmegate/store"
)

// TokenPrefix starts every admin API token, so that secret scanners and
// people recognise one.
const TokenPrefix = "agadm_"

// maxLabelLength leaves room for "operator:" in the 200-character actor
// column of the audit log.
const maxLabelLength = 150

// ErrBadLabel is returned for an empty label, one longer than 150
// characters or one holding control characters.
var ErrBadLabel = errors.New("admin: a label must be 1 to 150 printable characters")

// HashToken returns the hex SHA-256 of a token, the only form the store
// keeps.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken makes a token for label from 32 bytes of rand and returns the
// token, to be shown once, and the row that stores its hash. Nothing is
// stored.
func NewToken(rand io.Reader, label string) (string, *store.AdminToken, error) {
	label = strings.TrimSpace(label)
	if err := checkLabel(label); err != nil {
		return "", nil, err
	}
	var secret [32]byte
	var id [8]byte
	if _, err := io.ReadFull(rand, secret[:]); err != nil {
		return "", nil, fmt.Errorf("admin: generating token: %w", err)
	}
	if _, err := io.ReadFull(rand, id[:]); err != nil {
		return "", nil, fmt.Errorf("admin: generating token ID: %w", err)
	}
	token := TokenPrefix + base64.RawURLEncoding.EncodeToString(secret[:])
	row := &store.AdminToken{ID: "adm_" + hex.EncodeToString(id[:]), Label: label,
		Hash: HashToken(token)}
	return token, row, nil
}

// CreateToken makes a token for label with [NewToken] and stores it with an
// [EventTokenCreated] audit event by actor, in one transaction. It returns
// the token, which cannot be read back later, and its stored row.
func CreateToken(ctx context.Context, st *store.Store, rand io.Reader,
	label, actor string) (string, *store.AdminToken, error) {
	token, row, err := NewToken(rand, label)
	if err != nil {
		return "", nil, err
	}
	err = st.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.CreateAdminToken(row); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventTokenCreated, Actor: actor,
			Subject: "admin_token:" + row.ID, Outcome: "success",
			Data: map[string]any{"label": row.Label}})
	})
	if err != nil {
		return "", nil, fmt.Errorf("admin: storing token: %w", err)
	}
	return token, row, nil
}

// RevokeToken revokes the token id at now with an [EventTokenRevoked]
// audit event by actor. An unknown or already revoked token yields an
// error wrapping [store.ErrNotFound].
func RevokeToken(ctx context.Context, st *store.Store, id, actor string, now time.Time) error {
	return st.Transact(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeAdminToken(id, now); err != nil {
			return err
		}
		return tx.Audit(store.Event{Type: EventTokenRevoked, Actor: actor,
			Subject: "admin_token:" + id, Outcome: "success"})
	})
}

func checkLabel(label string) error {
	if label == "" || len(label) > maxLabelLength {
		return ErrBadLabel
	}
	if strings.IndexFunc(label, unicode.IsControl) >= 0 {
		return ErrBadLabel
	}
	return nil
}
