package acmetest

import (
	"context"
	"crypto/x509"
	"io"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acmegate/acmegate/acme/state"
	"github.com/acmegate/acmegate/ca"
	"github.com/acmegate/acmegate/challenges"
	"github.com/acmegate/acmegate/store/storetest"
)

// Epoch is where every fake clock starts. The test issuer is valid from a
// day before it.
var Epoch = time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC)

// Clock is a fake clock that moves only when told.
type Clock = storetest.Clock

// NewClock returns a clock reading Epoch.
func NewClock() *Clock { return storetest.NewClock(Epoch) }

var _ state.Clock = (*Clock)(nil)

// ValidateFunc decides the outcome of one validation.
type ValidateFunc func(ctx context.Context, req challenges.Request) (challenges.Record, error)

// Validator is a fake challenge validator: it counts its calls and returns
// what its function says; with no function set every validation succeeds.
// It is safe for concurrent use.
type Validator struct {
	mu    sync.Mutex
	fn    ValidateFunc
	calls atomic.Int64
	last  atomic.Pointer[challenges.Request]
}

var _ challenges.Validator = (*Validator)(nil)

// Set replaces the function deciding outcomes; nil means success.
func (v *Validator) Set(fn ValidateFunc) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.fn = fn
}

// Fail makes every validation fail with a challenges error of the given
// kind and detail.
func (v *Validator) Fail(kind, detail string) {
	v.Set(func(context.Context, challenges.Request) (challenges.Record, error) {
		return challenges.Record{}, &challenges.Error{Kind: kind, Detail: detail}
	})
}

// Calls reports how many validations were started.
func (v *Validator) Calls() int64 { return v.calls.Load() }

// Last returns the request of the most recent validation, or nil.
func (v *Validator) Last() *challenges.Request { return v.last.Load() }

// Validate implements challenges.Validator.
func (v *Validator) Validate(ctx context.Context, req challenges.Request) (challenges.Record, error) {
	v.calls.Add(1)
	v.last.Store(&req)
	v.mu.Lock()
	fn := v.fn
	v.mu.Unlock()
	if fn == nil {
		return challenges.Record{Type: "fake", Hostname: req.Identifier.Value}, nil
	}
	return fn(ctx, req)
}

// Issuer wraps the real issuer, counting signer calls. Before, when set,
// runs ahead of each call, so a test can hold issuance to observe the
// processing state. It is safe for concurrent use.
type Issuer struct {
	inner  *ca.Issuer
	calls  atomic.Int64
	mu     sync.Mutex
	before func()
	err    error
}

var _ state.Issuer = (*Issuer)(nil)

// CA returns the wrapped issuer.
func (i *Issuer) CA() *ca.Issuer { return i.inner }

// Calls reports how many times the signer was asked to issue.
func (i *Issuer) Calls() int64 { return i.calls.Load() }

// SetBefore installs fn to run before each issuance; nil removes it.
func (i *Issuer) SetBefore(fn func()) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.before = fn
}

// SetError makes every issuance fail with err without signing, as a
// signer whose HSM session was lost does; nil restores signing. The
// counter still counts the failed calls.
func (i *Issuer) SetError(err error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.err = err
}

// Issue implements state.Issuer.
func (i *Issuer) Issue(req ca.IssueRequest) (*x509.Certificate, []byte, error) {
	i.calls.Add(1)
	i.mu.Lock()
	before, err := i.before, i.err
	i.mu.Unlock()
	if before != nil {
		before()
	}
	if err != nil {
		return nil, nil, err
	}
	return i.inner.Issue(req)
}

// ChainPEM implements state.Issuer.
func (i *Issuer) ChainPEM() []byte { return i.inner.ChainPEM() }

// KeyID implements state.Issuer.
func (i *Issuer) KeyID() []byte { return i.inner.KeyID() }

// CreateCRL implements state.Issuer.
func (i *Issuer) CreateCRL(entries []ca.RevokedEntry, number *big.Int, thisUpdate,
	nextUpdate time.Time, rand io.Reader) ([]byte, error) {
	return i.inner.CreateCRL(entries, number, thisUpdate, nextUpdate, rand)
}
