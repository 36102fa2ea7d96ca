// Package nonce issues and redeems ACME anti-replay nonces (RFC 8555,
// Section 6.5).
//
// A nonce is self-authenticating: it carries its expiry time and random
// bytes under an HMAC whose key every replica shares through the store.
// Issuing a nonce therefore needs no database write; redeeming one checks
// the MAC and the expiry, then records the nonce as used under a unique key,
// so that across all replicas and restarts each nonce is accepted at most
// once. Used nonces are purged once they expire, which keeps the table
// bounded by the request rate times the nonce lifetime.
package nonce

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/acmegate/acmegate/acme/problem"
	"github.com/acmegate/acmegate/store"
)

const (
	expiryLen = 8
	randomLen = 12
	macLen    = 12
	rawLen    = expiryLen + randomLen + macLen
	// EncodedLen is the length of a nonce on the wire.
	EncodedLen = (rawLen*8 + 5) / 6
)

// Service issues and redeems nonces. It is safe for concurrent use.
type Service struct {
	key      []byte
	store    *store.Store
	now      func() time.Time
	rand     io.Reader
	lifetime time.Duration
}

// New returns a Service whose nonces live for lifetime (default 1 hour when
// zero), authenticated with key (at least 32 bytes, shared by replicas).
func New(st *store.Store, key []byte, now func() time.Time, random io.Reader, lifetime time.Duration) (*Service, error) {
	if len(key) < 32 {
		return nil, errors.New("nonce: the MAC key must have at least 32 bytes")
	}
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	return &Service{key: key, store: st, now: now, rand: random, lifetime: lifetime}, nil
}

// Nonce returns a fresh nonce.
func (s *Service) Nonce() (string, error) {
	var raw [rawLen]byte
	expiry := s.now().Add(s.lifetime).Unix()
	binary.BigEndian.PutUint64(raw[:expiryLen], uint64(expiry))
	if _, err := io.ReadFull(s.rand, raw[expiryLen:expiryLen+randomLen]); err != nil {
		return "", fmt.Errorf("nonce: reading random bytes: %w", err)
	}
	copy(raw[expiryLen+randomLen:], s.mac(raw[:expiryLen+randomLen]))
	return base64.RawURLEncoding.EncodeToString(raw[:]), nil
}

func (s *Service) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)[:macLen]
}

// Redeem accepts a nonce once. It answers badNonce for a nonce that is
// malformed, forged, expired or already used.
func (s *Service) Redeem(ctx context.Context, nonce string) error {
	if nonce == "" {
		return problem.New(problem.BadNonce, "the JWS has no nonce")
	}
	if len(nonce) != EncodedLen {
		return problem.New(problem.BadNonce, "the nonce is malformed")
	}
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != rawLen {
		return problem.New(problem.BadNonce, "the nonce is malformed")
	}
	if !hmac.Equal(raw[expiryLen+randomLen:], s.mac(raw[:expiryLen+randomLen])) {
		return problem.New(problem.BadNonce, "the nonce was not issued by this server")
	}
	expiry := time.Unix(int64(binary.BigEndian.Uint64(raw[:expiryLen])), 0)
	if !s.now().Before(expiry) {
		return problem.New(problem.BadNonce, "the nonce has expired")
	}
	err = s.store.Transact(ctx, func(tx *store.Tx) error {
		return tx.RedeemNonce(nonce, expiry)
	})
	if errors.Is(err, store.ErrConflict) {
		return problem.New(problem.BadNonce, "the nonce has already been used")
	}
	if err != nil {
		return fmt.Errorf("nonce: redeeming: %w", err)
	}
	return nil
}

// Purge deletes the records of nonces that have expired.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	var n int64
	err := s.store.Transact(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.PurgeNonces(s.now())
		return err
	})
	return n, err
}
