// Package nonce issues and redeems ACME anti-replay nonces (RFC 8555,
// Section 6.5).
//
// A nonce is self-authenticating: it carries its expiry time and random
// bytes under an HMAC. Issuing a nonce therefore needs no write; redeeming
// one checks the MAC and the expiry, then records the nonce as used with a
// [Redeemer], so that each nonce is accepted at most once. Used nonces are
// forgotten once they expire, which bounds the records by the request rate
// times the nonce lifetime.
//
// Replicas sharing a database use [StoreRedeemer] and a MAC key shared
// through the store: a nonce from one replica is accepted once by any.
// A single process on SQLite uses [MemoryRedeemer] and a key of its own,
// made at start: nothing is written per request, and nonces issued before
// a restart fail their MAC check instead of being replayable.
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
	"sync"
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

// Redeemer records used nonces. Use returns [ErrUsed] for a nonce it has
// recorded before; Purge forgets nonces that expired before now.
type Redeemer interface {
	Use(ctx context.Context, nonce string, expires time.Time) error
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// ErrUsed is returned by a [Redeemer] for a nonce seen before.
var ErrUsed = errors.New("nonce: already used")

// Service issues and redeems nonces. It is safe for concurrent use.
type Service struct {
	key      []byte
	used     Redeemer
	now      func() time.Time
	rand     io.Reader
	lifetime time.Duration
}

// New returns a Service whose nonces live for lifetime (default 1 hour when
// zero), authenticated with key (at least 32 bytes; shared by replicas
// that share used), recording used nonces with used.
func New(used Redeemer, key []byte, now func() time.Time, random io.Reader, lifetime time.Duration) (*Service, error) {
	if len(key) < 32 {
		return nil, errors.New("nonce: the MAC key must have at least 32 bytes")
	}
	if lifetime <= 0 {
		lifetime = time.Hour
	}
	return &Service{key: key, used: used, now: now, rand: random, lifetime: lifetime}, nil
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
	err = s.used.Use(ctx, nonce, expiry)
	if errors.Is(err, ErrUsed) {
		return problem.New(problem.BadNonce, "the nonce has already been used")
	}
	if err != nil {
		return fmt.Errorf("nonce: redeeming: %w", err)
	}
	return nil
}

// Purge forgets the nonces that have expired.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	return s.used.Purge(ctx, s.now())
}

// StoreRedeemer records used nonces in the database, under a unique key,
// so that replicas sharing it accept each nonce once in all.
type StoreRedeemer struct {
	Store *store.Store
}

var _ Redeemer = StoreRedeemer{}

// Use records nonce until expires.
func (r StoreRedeemer) Use(ctx context.Context, nonce string, expires time.Time) error {
	err := r.Store.Transact(ctx, func(tx *store.Tx) error {
		return tx.RedeemNonce(nonce, expires)
	})
	if errors.Is(err, store.ErrConflict) {
		return ErrUsed
	}
	return err
}

// Purge deletes the records of expired nonces.
func (r StoreRedeemer) Purge(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := r.Store.Transact(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.PurgeNonces(now)
		return err
	})
	return n, err
}

// MemoryRedeemer records used nonces in memory, for a single process whose
// nonce key is its own. The zero value is ready to use.
type MemoryRedeemer struct {
	mu   sync.Mutex
	used map[string]time.Time
}

var _ Redeemer = (*MemoryRedeemer)(nil)

// Use records nonce until expires.
func (r *MemoryRedeemer) Use(_ context.Context, nonce string, expires time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.used == nil {
		r.used = map[string]time.Time{}
	}
	if _, ok := r.used[nonce]; ok {
		return ErrUsed
	}
	r.used[nonce] = expires
	return nil
}

// Purge forgets expired nonces.
func (r *MemoryRedeemer) Purge(_ context.Context, now time.Time) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var n int64
	for k, exp := range r.used {
		if exp.Before(now) {
			delete(r.used, k)
			n++
		}
	}
	return n, nil
}
